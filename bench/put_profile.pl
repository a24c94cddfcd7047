#!/usr/bin/perl

# Where the CPU of an upload goes: the local network (a gateway and n = 7
# nodes in one nginx of 2 workers, 4 MiB segments, the nodes' keepers
# off), two warm-up PUTs of a 64 MiB blob, then WALRUS_PROFILE_PUTS
# (default 4) PUTs of variants of it under `perf record` with call
# graphs.  Prints the CPU seconds of the workers (threads included) per
# PUT, the symbols over 1 % of the samples, and who calls the symbols
# named in WALRUS_PROFILE_CALLERS (default: the kernel's copy into the
# page cache and its page clearing).  Each stored blob is deleted before
# the next PUT.  WALRUS_PROFILE_MODULE runs another build's module file
# (an earlier commit's, for a before and after).
#
#     perl bench/put_profile.pl
#     WALRUS_PROFILE_CALLERS=_copy_to_iter perl bench/put_profile.pl

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../t/lib";

use Test::More;
use WalrusTest;
use POSIX ();
use Time::HiRes qw(time sleep);

my $MiB = 1024 * 1024;
my $N = 7;
my $PUTS = $ENV{WALRUS_PROFILE_PUTS} // 4;
my $CALLERS = $ENV{WALRUS_PROFILE_CALLERS}
              // 'copy_folio_from_iter_atomic,clear_page_erms';

system('perf record -e cpu-clock -o /dev/null true >/dev/null 2>&1') == 0
    or plan skip_all => 'perf does not run here (apt-get install linux-perf)';

my $t = WalrusTest->new(n => $N, segment_size => 4 * $MiB);
my $dir = $t->dir;

# nginx maps the module file: `make` would rewrite it under nginx
system('cp', $ENV{WALRUS_PROFILE_MODULE} // $WalrusTest::MODULE,
       "$dir/module.so") == 0 or die "cannot copy the module\n";
$WalrusTest::MODULE = "$dir/module.so";

$t->write_config(gateway => 1, workers => 2,
                 gateway_extra => 'walrus_gateway_max_blob_size 2g; '
                                  . 'client_max_body_size 2g;',
                 http => "    walrus_node_keeper off;\n");
$t->run;

my $blob = "$dir/blob";
system("head -c " . 64 * $MiB . " /dev/urandom > $blob") == 0 or die;
my $url = $t->gateway_url . '/v1/blobs';

sub put {
    my ($k) = @_;
    open my $fh, '+<:raw', $blob or die "$blob: $!";
    print $fh pack('a16', "variant $k " . time);
    close $fh or die;
    my $out = `curl -s -H Expect: -T $blob '$url'`;
    $out =~ /"blobId":"([A-Za-z0-9_-]{43})"/ or die "PUT: $out\n";
    my $id = $1;
    sleep 0.3;    # the nodes the gateway did not wait for
    system('rm', '-rf', map { $t->store($_) . "/$id" } 0 .. $N - 1);
}

sub cpu_seconds {
    my $ticks = 0;
    for my $pid ($t->worker_pids) {
        my @f = split ' ', WalrusTest::read_file("/proc/$pid/stat") // '';
        $ticks += $f[13] + $f[14];
    }
    return $ticks / POSIX::sysconf(POSIX::_SC_CLK_TCK());
}

put($_) for 1 .. 2;

my $data = "$dir/perf.data";
my $pid = fork // die;
if ($pid == 0) {
    open STDOUT, '>', "$dir/perf.log";
    open STDERR, '>&', \*STDOUT;
    exec 'perf', 'record', '-e', 'cpu-clock', '-F', '1000',
        '--call-graph', 'dwarf,8192', '-o', $data, '-p',
        join(',', $t->worker_pids) or exit 127;
}
sleep 1;
my $cpu = cpu_seconds();
put(2 + $_) for 1 .. $PUTS;
$cpu = (cpu_seconds() - $cpu) / $PUTS;
kill 'INT', $pid;
waitpid $pid, 0;

my $rep = "perf report -i $data --stdio --no-children --sort sym";
diag(sprintf "CPU seconds per 64 MiB PUT, gateway and nodes: %.2f", $cpu);
diag($_) for grep { /\S/ && !/^#/ }
    split /\n/, `$rep -g none --percent-limit 1 2>/dev/null`;
diag($_) for grep { /\S/ && !/^#/ && !/entry_SYSCALL|do_syscall|x64_sys/ }
    split /\n/, `$rep -G -S $CALLERS 2>/dev/null`;

ok($cpu > 0, 'the workers used CPU for the PUTs');
$t->stop;
done_testing();
