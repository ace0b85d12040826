/** 한국어. Every key of `en.ts`, checked by the type; one file per feature (`<feature>.ko.ts`). */
import type en from './en';
import adminKo from './admin.ko';
import authKo from './auth.ko';
import chatKo from './chat.ko';
import commonKo from './common.ko';
import modelsKo from './models.ko';
import noticesKo from './notices.ko';
import settingsKo from './settings.ko';
import usageKo from './usage.ko';

const ko: Record<keyof typeof en, string> = {
  ...commonKo,
  ...authKo,
  ...chatKo,
  ...settingsKo,
  ...usageKo,
  ...adminKo,
  ...modelsKo,
  ...noticesKo,
};

export default ko;
