/** The WinRM transport and the pieces tests and other layers may name. */
export { WinRmTransport, type WinRmOptions, type WinRmTarget } from './winrm.js';
export { WinRmFault } from './fault.js';
export type { MessageEncryption } from './http.js';
export { planUpload, uploadScript, uploadStdin, isAbsoluteWindowsPath, UPLOAD_HASH_MISMATCH, type UploadPlan } from './upload.js';
