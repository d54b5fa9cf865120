/** Why Basic over http is refused, and what to use instead (the CLI says the same before any host is contacted). */
export function cleartextBasicRefused(where: string): string {
  return `${where}: WinRM Basic over http would send the password in clear text with every request; use https (ansible_winrm_scheme=https, port 5986) or NTLM over https, or if this network is trusted opt in with winrm_cleartext_basic=true for the host or --winrm-cleartext-basic`;
}
