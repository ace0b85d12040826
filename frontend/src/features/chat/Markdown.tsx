/**
 * Message text as markdown, inert by construction: raw HTML is shown as text (no
 * rehype-raw), links keep only http(s) and mailto targets, images become links (the CSP
 * would block outside images anyway), and no component renders event handlers.
 */
import { memo, type ReactNode } from 'react';
import ReactMarkdown, { type Components } from 'react-markdown';
import remarkGfm from 'remark-gfm';
import { CodeBlock } from './CodeBlock';

const SAFE_URL = /^(https?:|mailto:)/i;

/** The URL when its scheme is http, https or mailto; '' (dropped) otherwise. */
export function safeUrl(url: string): string {
  const trimmed = url.trim();
  return SAFE_URL.test(trimmed) ? trimmed : '';
}

const components: Components = {
  a: ({ href, children }) =>
    href ? (
      <a href={href} target="_blank" rel="noopener noreferrer nofollow">
        {children}
      </a>
    ) : (
      <span className="underline decoration-dotted">{children}</span>
    ),
  img: ({ src, alt }) => {
    const href = typeof src === 'string' ? safeUrl(src) : '';
    const label = alt || href;
    return href ? (
      <a href={href} target="_blank" rel="noopener noreferrer nofollow">
        {label}
      </a>
    ) : (
      <span>{label}</span>
    );
  },
  pre: ({ children }) => <>{children}</>,
  code: ({ className, children }) => {
    const language = /language-([\w+#-]+)/.exec(className ?? '')?.[1];
    const text = String(children ?? '');
    const block = language !== undefined || text.includes('\n');
    if (!block) return <code className="inline-code">{children}</code>;
    return <CodeBlock code={text.replace(/\n$/, '')} language={language ?? ''} />;
  },
  table: ({ children }) => (
    <div className="table-scroll">
      <table>{children}</table>
    </div>
  ),
};

const plugins = [remarkGfm];

function MarkdownView({ text }: { text: string }): ReactNode {
  return (
    <div className="markdown">
      <ReactMarkdown remarkPlugins={plugins} components={components} urlTransform={safeUrl}>
        {text}
      </ReactMarkdown>
    </div>
  );
}

export const Markdown = memo(MarkdownView);
