import type { PasswordRules } from '../../core/password.js';

/** A Windows server's password rules, as the reset pages give them (../shared/seeds, FlexusL reset page). */
export const WINDOWS_PASSWORD_RULES: PasswordRules = { name: 'Windows', specials: '!@%-_=+[]:./?', noUserRuns: true, noLeadingSlash: true };
