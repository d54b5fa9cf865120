/**
 * Types for the NTLM message functions of httpntlm (its ntlm.js, plain CommonJS without typings). Only what
 * ntlm.ts calls is declared.
 */
declare module 'httpntlm/ntlm.js' {
  interface Type2Message {
    serverChallenge: Buffer;
    negotiateFlags: number;
    targetInfo?: Buffer;
  }
  interface Credentials {
    username: string;
    password: string;
    domain?: string;
    workstation?: string;
  }
  const ntlm: {
    createType1Message(options: { domain?: string; workstation?: string }): string;
    parseType2Message(raw: string, callback: (err: Error) => void): Type2Message | null;
    createType3Message(msg2: Type2Message, options: Credentials): string;
  };
  export default ntlm;
}
