#!/usr/bin/perl
# The lab host's listener: fd 3 is a TCP socket bound to the host's 127.10.x.y address in the machine's
# network namespace (the launcher created it before the host got its own). Each connection is handed to
# "sshd -i", which then runs entirely inside the host's namespaces. This is what keeps the host reachable
# on loopback while its sessions see only the host's own network.
use strict;
use warnings;
use POSIX qw(WNOHANG);
open(my $listen, '+<&=', 3) or die "inetd: fd 3 is not open: $!";
$SIG{CHLD} = 'IGNORE';
1 while waitpid(-1, WNOHANG) > 0;   # children lab-init left before it became this process$SIG{TERM} = sub { exit 0 };
# Tell the launcher this host is ready (fd 4, a pipe it reads), so it need not probe with a connection:
# each probe would cost the host a whole sshd start.
if (open(my $ready, '>&=', 4)) { syswrite($ready, "R"); close($ready); }
while (1) {
  my $peer = accept(my $conn, $listen);
  1 while waitpid(-1, WNOHANG) > 0;
  next unless $peer;
  my $pid = fork();
  next unless defined $pid;
  if ($pid == 0) {
    close($listen);
    $SIG{CHLD} = 'DEFAULT';
    POSIX::dup2(fileno($conn), 0);
    POSIX::dup2(fileno($conn), 1);
    exec(@ARGV) or POSIX::_exit(127);
  }
  close($conn);
}
