import type { PasswordRules } from '../../core/password.js';

/** A Linux server's password rules, as the reset pages give them (../shared/seeds, FlexusL reset page). */
export const LINUX_PASSWORD_RULES: PasswordRules = { name: 'Linux', specials: '!@%-_=+[]:./^,{}?', noUserRuns: false, noLeadingSlash: false };
