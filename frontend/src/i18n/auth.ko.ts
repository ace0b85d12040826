/** 한국어: auth.en.ts의 모든 키 (타입이 확인합니다). */
import type authEn from './auth.en';

const authKo: Record<keyof typeof authEn, string> = {
  'login.email': '이메일',
  'login.password': '비밀번호',
  'login.signingIn': '로그인 중…',
  'login.submit': '로그인',
  'login.subtitle': '로그인하고 팀의 모델과 대화하세요.',
  'login.or': '또는',
  'login.sso': '{name}(으)로 로그인',
  'login.passwordToggle': '비밀번호로 로그인 (관리자)',
  'login.passwordOff': '이 계정은 비밀번호 로그인이 꺼져 있습니다. SSO로 로그인하세요.',
  'login.ssoError.denied': '인증 제공자에서 로그인이 취소되었거나 동의가 거부되었습니다.',
  'login.ssoError.state': '로그인 요청이 만료되었거나 이 브라우저에서 시작되지 않았습니다. 다시 시도해 주세요.',
  'login.ssoError.provider': '인증 제공자의 응답을 확인할 수 없습니다. 다시 시도하거나 관리자에게 문의하세요.',
  'login.ssoError.unavailable': '지금은 SSO를 사용할 수 없습니다. 잠시 후 다시 시도해 주세요.',
  'login.ssoError.disabled': '비활성화된 계정입니다. 관리자에게 문의하세요.',
  'login.ssoError.emailMissing': '인증 제공자가 이메일 주소를 알려 주지 않았습니다. gpuchat에는 이메일이 필요합니다.',
  'login.ssoError.emailUnverified': '이 이메일을 쓰는 계정이 이미 있지만 인증 제공자가 이메일을 확인하지 않았습니다. 관리자에게 문의하세요.',
  'login.ssoError.emailTaken': '이 이메일은 이미 다른 SSO 계정에 연결되어 있습니다. 관리자에게 문의하세요.',
};

export default authKo;
