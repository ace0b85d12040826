/**
 * English. This catalog defines the keys, one file per feature (`<feature>.en.ts`);
 * `ko.ts` must have every one of them. A key lives in exactly one feature's file.
 */
import adminEn from './admin.en';
import authEn from './auth.en';
import chatEn from './chat.en';
import commonEn from './common.en';
import modelsEn from './models.en';
import noticesEn from './notices.en';
import settingsEn from './settings.en';
import usageEn from './usage.en';

const en = {
  ...commonEn,
  ...authEn,
  ...chatEn,
  ...settingsEn,
  ...usageEn,
  ...adminEn,
  ...modelsEn,
  ...noticesEn,
} as const;

export default en;
