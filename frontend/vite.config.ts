/// <reference types="vitest/config" />
import tailwindcss from '@tailwindcss/vite';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The gateway serves dist/ at `/`; `npm run dev` proxies the API to a running gateway.
const gateway = process.env.GPUCHAT_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [react(), tailwindcss()],
  build: {
    target: 'es2022',
    sourcemap: false,
    // The CSP forbids inline scripts: never inline the module-preload polyfill.
    modulePreload: { polyfill: false },
  },
  server: {
    proxy: { '/api': gateway, '/v1': gateway },
  },
  test: {
    environment: 'jsdom',
    globals: true,
    include: ['tests/unit/**/*.test.{ts,tsx}'],
    setupFiles: ['tests/unit/setup.ts'],
  },
});
