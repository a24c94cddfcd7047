#!/usr/bin/env perl
# Heal benchmark: what a storage node downloads to rebuild its slivers
# after its store was wiped, and how long that takes.
#
#   1. Bytes per byte stored: for a 64 MiB blob at n = 7, 10, 31, 100,
#      with at most 10 node servers (a server holds several shards) and
#      with one shard per server (31:31, 100:100), one node's store is
#      wiped and its keeper heals it.  Every byte it downloads is compared
#      with the bytes of the sliver pairs it rebuilt, and split up: the
#      symbols, their proofs, symbols beyond those needed, headers, 429
#      answers, record sync and metadata.  Beside it the naive way:
#      download the blob and encode it again (blob size / pair bytes).
#   2. Time to heal a wiped node holding about 1 GiB of slivers (n = 7,
#      one shard per node server), three times (nodes 1, 2, 3), each in
#      one nginx and again with the healer in an nginx of its own (so
#      that its CPU and the peers' are told apart): wall time, rate, the
#      time a recovery call was out, CPU of the workers (event loop and
#      threads apart), the machine's CPU, 429s; then one more heal under
#      perf (healer and peers profiled apart).
#
# The networks are written by the test harness (t/lib/WalrusTest.pm):
# one nginx, worker_processes 1, the gateway and the node servers in it,
# walrus_node_keeper_interval 1s.  Each node server's peer location logs
# the keeper's calls (log_subrequest) with the bytes received from the
# peer, headers included.  A store is wiped by renaming it aside, putting
# an empty directory in its place and removing the old files.  Run with
# `make bench-heal` (docs/benchmarks.md, "Heal"); it needs about 8 GB in
# $TMPDIR for part 2.
#
# Environment: WALRUS_BENCH_N (the committees of part 1, n or n:servers,
# "7,10,31,100,31:31,100:100"), WALRUS_BENCH_SERVERS (node servers of
# an n alone: at most this many, 10), WALRUS_BENCH_REPS
# (heals per n in part 1, 3; heals in part 2, 3), WALRUS_BENCH_HEAL_SIZE
# (slivers the healing node holds in part 2, 1G; 0 skips part 2),
# WALRUS_BENCH_SEGMENT (the committee's segment size, 4M),
# WALRUS_BENCH_INTERVAL (walrus_node_keeper_interval, 1s),
# WALRUS_BENCH_WORKERS (1), WALRUS_BENCH_PERF (0 skips the profiled
# heal), WALRUS_BENCH_MODULE (another module file, for
# experiments), WALRUS_BENCH_OUT (the markdown results,
# build/bench/heal.md), WALRUS_KEEP=1 keeps the directory.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../t/lib";

use Test::More;
use WalrusTest;
use POSIX qw(strftime ceil);
use List::Util qw(min max sum);
use Time::HiRes qw(time sleep);
use File::Path qw(remove_tree);
use IO::Socket::INET;

$| = 1;

my $KiB = 1024;
my $MiB = 1024 * $KiB;
my $GiB = 1024 * $MiB;
my $BLOB = 64 * $MiB;
my $SERVERS = $ENV{WALRUS_BENCH_SERVERS} // 10;
my @NS = map { /^(\d+)(?::(\d+))?$/ or die "bad WALRUS_BENCH_N entry $_\n";
               [ $1, $2 // min($1, $SERVERS) ] }
         split /,/, ($ENV{WALRUS_BENCH_N} // '7,10,31,100,31:31,100:100');
my $REPS = $ENV{WALRUS_BENCH_REPS} // 3;
my $SEGMENT = size_arg($ENV{WALRUS_BENCH_SEGMENT} // '4M');
my $HEAL_SIZE = size_arg($ENV{WALRUS_BENCH_HEAL_SIZE} // '1G');
my $INTERVAL = $ENV{WALRUS_BENCH_INTERVAL} // '1s';
my $WORKERS = $ENV{WALRUS_BENCH_WORKERS} // 1;
my $PERF = $ENV{WALRUS_BENCH_PERF} // 1;
my $ROOT = $WalrusTest::ROOT;
my $OUT = $ENV{WALRUS_BENCH_OUT} // "$ROOT/build/bench/heal.md";
my $MODULE = $ENV{WALRUS_BENCH_MODULE} // $WalrusTest::MODULE;
my $HZ = POSIX::sysconf(POSIX::_SC_CLK_TCK());

my $started = time;
my $load0 = loadavg();

sub size_arg {
    my ($v) = @_;
    $v =~ /^(\d+)([KMG]?)$/i or die "bad size $v\n";
    return $1 * { '' => 1, K => $KiB, M => $MiB, G => $GiB }->{uc $2};
}

sub loadavg { (split ' ', WalrusTest::read_file('/proc/loadavg'))[0] }

my @md;
sub out { push @md, @_; print map { "$_\n" } @_; }
sub r2 { sprintf '%.2f', $_[0] }
sub r3 { sprintf '%.3f', $_[0] }
sub r1 { sprintf '%.1f', $_[0] }
sub r0 { sprintf '%.0f', $_[0] }

sub median {
    my @s = sort { $a <=> $b } @_;
    return @s % 2 ? $s[$#s / 2] : ($s[@s / 2 - 1] + $s[@s / 2]) / 2;
}

sub run_cmd {
    my ($cmd) = @_;
    my $out = `$cmd`;
    die "failed: $cmd\n" if $? != 0;
    return $out;
}

# --- protocol figures (docs/protocol.md sections 1, 2, 11.1) ----------------

sub params {
    my ($n) = @_;
    my $f = int(($n - 1) / 3);
    return ($f, $n - 2 * $f, $n - $f);
}

sub sym_size {
    my ($n, $len) = @_;
    my (undef, $p, $s) = params($n);
    my $sym = max(1, ceil($len / ($p * $s)));
    return 64 * ceil($sym / 64);
}

# the symbol sizes of the segments of a blob of $len bytes
sub segment_syms {
    my ($n, $len) = @_;
    my @syms;
    for (my $off = 0; $off < $len || !@syms; $off += $SEGMENT) {
        push @syms, sym_size($n, min($SEGMENT, $len - $off));
    }
    return @syms;
}

sub proof_len {
    my ($n) = @_;
    my $levels = 0;
    $levels++ while (1 << $levels) < $n;
    return 32 * $levels;
}

# --- the network ------------------------------------------------------------

my $t;          # the harness of the current network
my $healer_pid; # the pid file of the healer's own nginx, while it runs
my $dir;
my %shards;     # node server => [shards]
my $NSHARDS;

# node servers as the harness writes them (walrus_node_scrub_rate 1m),
# their peer locations logging the keeper's calls
my $NODE = $WalrusTest::NODE_LOCATION
    . ($WalrusTest::NODE_PROXY =~ s{%%NODE_PROXY_EXTRA%%}{log_subrequest on;
            access_log %%DIR%%/logs/calls%%NODE%%.log calls;}r);

# a committee of $n shards over $k node servers: shard j on server j % k
sub committee {
    my ($n, $k) = @_;
    my @nodes;
    %shards = ();
    push @{$shards{$_ % $k}}, $_ for 0 .. $n - 1;
    for my $i (0 .. $k - 1) {
        push @nodes, sprintf '{"name":"node%d","url":"%s","shards":[%s],'
            . '"public_key_file":"keys/node%d.pub"}', $i, $t->node_url($i),
            join(',', @{$shards{$i}}), $i;
    }
    WalrusTest::write_file($t->committee,
        sprintf('{"epoch":1,"n_shards":%d,"segment_size":%d,"nodes":[%s],'
                . '"publishers":[{"name":"gateway",'
                . '"public_key_file":"keys/gateway.pub"}]}',
                $n, $SEGMENT, join(',', @nodes)));
    $NSHARDS = $n;
}

sub network {
    my ($n, $k) = @_;
    $t = WalrusTest->new(n => $k, segment_size => $SEGMENT);
    $dir = $t->dir;
    committee($n, $k);

    # nginx maps the module file: a `make` meanwhile must not change it
    system('cp', $MODULE, "$dir/ngx_http_walrus_module.so") == 0
        or die "cannot copy $MODULE\n";
    $WalrusTest::MODULE = "$dir/ngx_http_walrus_module.so";

    $t->write_config(common(), gateway => 1)->run;
    print "n = $n over $k node servers: $dir\n";
}

sub common {
    return (node => $NODE, workers => $WORKERS,
            gateway_extra => 'walrus_gateway_max_blob_size 2g;',
            http => <<"EOF");
    walrus_node_keeper_interval $INTERVAL;
    log_format calls '\$msec \$request_time \$walrus_node \$walrus_node_uri '
                     '\$status \$upstream_bytes_received';
EOF
}

# node server $x in an nginx of its own (healer.conf), the gateway and the
# other node servers in the harness's: returns the healer's pid file
sub split_start {
    my ($x) = @_;
    $t->stop;
    $t->write_config(common(), gateway => 0,
                     down => [ grep { $_ != $x } 0 .. $t->n - 1 ]);
    my $conf = WalrusTest::read_file("$dir/nginx.conf");
    $conf =~ s{^pid \S+;$}{pid $dir/logs/healer.pid;}m
        && $conf =~ s{^error_log \S+}{error_log $dir/logs/healer-error.log}m
        or die 'cannot write healer.conf';
    WalrusTest::write_file("$dir/healer.conf", $conf);

    $t->write_config(common(), gateway => 1, down => [ $x ])->run;
    system($WalrusTest::NGINX, '-p', "$dir/", '-c', "$dir/healer.conf",
           '-e', "$dir/logs/healer-error.log") == 0
        or die "the healer's nginx did not start\n";
    WalrusTest::eventually(sub {
        IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                              PeerPort => $t->node_port($x)) }, 10)
        or die "the healer's nginx does not listen\n";
    $healer_pid = "$dir/logs/healer.pid";
    return $healer_pid;
}

sub split_stop {
    my ($pidfile) = @_;
    my $master = WalrusTest::read_file($pidfile) // die;
    chomp $master;
    kill 'QUIT', $master;
    sleep 0.05 while kill 0, $master;
    undef $healer_pid;
    my $log = WalrusTest::read_file("$dir/logs/healer-error.log") // '';
    die "the healer's nginx logged:\n$1\n"
        if $log =~ /^(.*(?:\[(?:alert|crit|emerg)\]|exited on signal).*)$/m;
    $t->stop;
    $t->write_config(common(), gateway => 1)->run;
}

# --- blobs ------------------------------------------------------------------

# 64 MiB of random bytes, read once; blob $k is them with its number in
# front, written to $path
my $RANDOM;

sub blob_file {
    my ($path, $k) = @_;
    if (!defined $RANDOM) {
        open my $fh, '<:raw', '/dev/urandom' or die "/dev/urandom: $!";
        read($fh, $RANDOM, $BLOB) == $BLOB or die '/dev/urandom: short';
    }
    WalrusTest::write_file($path, pack('a16', "blob $k " . time)
                                  . substr($RANDOM, 16));
    return $path;
}

sub put_blob {
    my ($file) = @_;
    my $url = $t->gateway_url . '/v1/blobs';
    my $out = run_cmd("curl -s -H Expect: -T $file -w '\\n%{http_code}' "
                      . "'$url'");
    my ($body, $code) = $out =~ /^(.*)\n(\d+)$/s or die "curl: $out";
    die "PUT $file: $code $body" unless $code == 200;
    $body =~ /"blobId":"([A-Za-z0-9_-]{43})"/ or die "no blob ID: $body";
    return $1;
}

# the pairs node server $i holds of blob $id
sub pairs_of {
    my ($i, $id) = @_;
    my $bytes = WalrusTest::Proto::unb64url($id);
    return map { WalrusTest::Proto::shard_to_pair($bytes, $NSHARDS, $_) }
           @{$shards{$i}};
}

# the files node server $i must hold of blob $id
sub files_of {
    my ($i, $id) = @_;
    return ('certificate', 'registration', 'metadata',
            map { ("$_.primary", "$_.secondary") } pairs_of($i, $id));
}

sub holds {
    my ($i, $id) = @_;
    my $store = $t->store($i) . "/$id";
    return !grep { !-e "$store/$_" } files_of($i, $id);
}

sub all_hold {
    my (@ids) = @_;
    for my $i (0 .. $t->n - 1) {
        return 0 if grep { !holds($i, $_) } @ids;
    }
    return 1;
}

sub pair_bytes {
    my ($i, @ids) = @_;
    my $bytes = 0;
    for my $id (@ids) {
        $bytes += -s $t->store($i) . "/$id/$_"
            for map { ("$_.primary", "$_.secondary") } pairs_of($i, $id);
    }
    return $bytes;
}

# a store lost at once: renamed aside and replaced by an empty directory,
# so that the keeper, which may be writing, never sees half a store; then
# the old files are removed (the keeper writes into the new directory),
# so that their page cache is free again as after a deletion in place
sub wipe {
    my ($path) = @_;
    rename $path, "$path.wiped" or die "rename $path: $!";
    mkdir $path or die "mkdir $path: $!";
    WalrusTest::chown_worker($path);
    remove_tree("$path.wiped");
}

# --- measuring --------------------------------------------------------------

# the workers of the harness's nginx, or of another nginx by its pid file
sub worker_pids {
    my ($pidfile) = @_;
    return $t->worker_pids unless $pidfile;
    my $master = WalrusTest::read_file($pidfile) // return;
    chomp $master;
    return split ' ', `pgrep -P $master`;
}

# CPU ticks of processes: (event loop threads, other threads)
sub worker_cpu {
    my (@pids) = @_;
    my ($loop, $pool) = (0, 0);
    for my $pid (@pids) {
        for my $task (glob "/proc/$pid/task/*") {
            my $st = WalrusTest::read_file("$task/stat") // next;
            $st =~ s/^.*\) //s;
            my @f = split ' ', $st;
            my $ticks = $f[11] + $f[12];
            if ($task =~ m{/$pid$}) { $loop += $ticks } else { $pool += $ticks }
        }
    }
    return ($loop / $HZ, $pool / $HZ);
}

# the machine's CPU: (busy, total) ticks over all CPUs
sub machine_cpu {
    my ($cpu) = (WalrusTest::read_file('/proc/stat') // '') =~ /^cpu\s+(.*)$/m;
    my @f = split ' ', $cpu;
    my $idle = $f[3] + $f[4];
    my $total = sum(@f[0 .. 7]);
    return ($total - $idle, $total);
}

sub write_bytes {
    my $bytes = 0;
    for my $pid (@_) {
        my $io = WalrusTest::read_file("/proc/$pid/io") // '';
        $bytes += $1 if $io =~ /^write_bytes:\s+(\d+)/m;
    }
    return $bytes;
}

# the keeper's calls of node server $i after byte $from of its log:
# [time, uri, status, bytes received]
sub calls {
    my ($i, $from) = @_;
    my $log = WalrusTest::read_file("$dir/logs/calls$i.log") // '';
    my @calls;
    for (split /\n/, substr($log, min($from, length $log))) {
        my ($end, $secs, $node, $uri, $status, $got) = split ' ', $_, 6;
        next if $node eq '-';     # the round's own request
        $got = sum(map { /^\d+$/ ? $_ : 0 } split /[ ,:]+/, $got // '-')
               // 0;
        push @calls, [ $end, $uri, $status, $got, $node =~ s/^node//r,
                       $end - $secs ];
    }
    return @calls;
}

sub calls_mark { -s "$dir/logs/calls$_[0].log" // 0 }

# wipes node server $x and waits until it holds @ids again; what it took.
# With the healer in an nginx of its own (split => its pid file), the CPU
# of the healer's workers and of the others' are told apart.
sub heal {
    my ($x, $ids, %o) = @_;
    my @ids = @$ids;
    my $pairs = sum(map { scalar pairs_of($x, $_) } @ids);
    my $elog = $o{split} ? "$dir/logs/healer-error.log" : $t->error_log;
    my $emark = -s $elog // 0;
    my $cmark = calls_mark($x);
    my @healer = worker_pids($o{split});
    my @peers = $o{split} ? worker_pids() : ();
    my @cpu0 = (worker_cpu(@healer), worker_cpu(@peers));
    my @m0 = machine_cpu();
    my $w0 = write_bytes(@healer);
    my %seen;
    my @rebuilt;

    my $t0 = time;
    wipe($t->store($x));
    my $deadline = $t0 + 600 + 4 * $pairs;

    until (@rebuilt >= $pairs) {
        die "node$x did not heal within " . r0(time - $t0) . " s\n"
            if time > $deadline;
        sleep 0.05;
        my $now = time;
        my $log = WalrusTest::read_file($elog) // '';
        for (split /\n/, substr($log, min($emark, length $log))) {
            next unless /node node$x rebuilt sliver pair/;
            next if $seen{$_}++;
            /rebuilt sliver pair (\d+) of blob (\S+) from (\d+) bytes/
                or die "log line: $_";
            push @rebuilt, { pair => $1, blob => $2, bytes => $3,
                             at => $now - $t0 };
        }
    }

    my $wall = $rebuilt[-1]{at};
    my @cpu1 = (worker_cpu(@healer), worker_cpu(@peers));
    my @m1 = machine_cpu();
    my $wrote = write_bytes(@healer) - $w0;
    my @lack = map { my $id = $_; map { "$id/$_" }
                     grep { !-e $t->store($x) . "/$id/$_" } files_of($x, $id) }
               @ids;
    die "node$x lacks @lack\n" if @lack;

    my @calls = calls($x, $cmark);
    my $log = substr(WalrusTest::read_file($elog) // '', $emark);
    return {
        t0 => $t0,
        wall => $wall,
        first => $rebuilt[0]{at},
        rebuilt => \@rebuilt,
        recovery => sum(map { $_->{bytes} } @rebuilt),
        pair_bytes => pair_bytes($x, @ids),
        calls => \@calls,
        loop => $cpu1[0] - $cpu0[0],
        pool => $cpu1[1] - $cpu0[1],
        peer_loop => $cpu1[2] - $cpu0[2],
        peer_pool => $cpu1[3] - $cpu0[3],
        machine_busy => ($m1[0] - $m0[0]) / ($m1[1] - $m0[1]),
        wrote => $wrote,
        rounds_stopped => scalar(() = $log =~ /keeper round \d+ stopped/g),
        failed => scalar(() = $log =~ /node node$x cannot heal blob/g),
    };
}

# the healer's downloads by kind, from its calls: bytes and count
sub downloads {
    my ($h) = @_;
    my %d;
    for my $c (@{$h->{calls}}) {
        my (undef, $uri, $status, $got) = @$c;
        my $kind = $status == 429 ? '429'
                 : $uri =~ m{/recovery/} ? 'recovery'
                 : $uri =~ m{/metadata$} ? 'metadata'
                 : $uri =~ m{^/v1/certified} ? 'certified'
                 : 'other';
        $d{$kind}{bytes} += $got;
        $d{$kind}{count}++;
        $d{all}{bytes} += $got;
    }
    return \%d;
}

# the healer's downloaded bytes split up (docs/protocol.md 11.1): the
# symbols it needed (the pairs' bytes), symbols beyond them (helper pairs
# a peer holds beyond what was still short, or answers not used), the
# proofs, the answers' headers, the HTTP headers of the recovery answers,
# the 429 answers of busy peers, and the other calls (records of certified
# blobs, metadata)
sub recovery_parts {
    my ($h, $n) = @_;
    my $proof = proof_len($n);
    my @syms = segment_syms($n, $BLOB);
    my %parts = map { $_ => 0 } qw(symbols proofs headers http other busy);

    for my $c (@{$h->{calls}}) {
        my (undef, $uri, $status, $got, $node) = @$c;
        if ($status != 200 || $uri !~ m{/recovery/}) {
            $parts{$status == 429 ? 'busy' : 'other'} += $got;
            next;
        }
        my ($a, $b) = $uri =~ /segments=(\d+)-(\d+)/ or die "uri: $uri";
        my ($axes) = $uri =~ /axes=(\w+)/;
        my $naxes = $axes eq 'both' ? 2 : 1;
        my $m = scalar @{$shards{$node}};
        my $sym = sum(@syms[$a .. $b]);
        my $count = $b - $a + 1;
        my $answer = 46 + 2 * $m + $m * $naxes * ($sym + $count * $proof);
        $parts{symbols} += $m * $naxes * $sym;
        $parts{proofs} += $m * $naxes * $count * $proof;
        $parts{headers} += 46 + 2 * $m;
        $parts{http} += $got - $answer;
        $parts{answers} += $answer;
        $parts{calls}++;
    }
    $parts{extra} = $parts{symbols} - $h->{pair_bytes};
    return \%parts;
}

# seconds of the heal during which a recovery call of the healer was
# out (the union of the calls' intervals), and the first call's start
sub peer_time {
    my ($h) = @_;
    my @iv = sort { $a->[0] <=> $b->[0] }
             map { [ $_->[5], $_->[0] ] }
             grep { $_->[1] =~ m{/recovery/} } @{$h->{calls}};
    my ($busy, $from, $to) = (0);
    for my $iv (@iv) {
        if (defined $to && $iv->[0] <= $to) {
            $to = max($to, $iv->[1]);
            next;
        }
        $busy += $to - $from if defined $to;
        ($from, $to) = @$iv;
    }
    $busy += $to - $from if defined $to;
    return ($busy, @iv ? $iv[0][0] - $h->{t0} : 0);
}

# --- part 1: bytes per byte stored ------------------------------------------


sub part1 {
    my ($n, $k) = @_;
    network($n, $k);
    my $id = put_blob(blob_file("$dir/blob", 0));
    unlink "$dir/blob";
    WalrusTest::eventually(sub { all_hold($id) }, 120)
        or die "n = $n: not every node holds the blob\n";
    my @res;
    for my $rep (1 .. $REPS) {
        my $x = 1 + ($rep - 1) % ($t->n - 1);
        my $h = heal($x, [ $id ]);
        $h->{node} = $x;
        $h->{shards} = scalar @{$shards{$x}};
        $h->{downloads} = downloads($h);
        $h->{parts} = recovery_parts($h, $n);
        push @res, $h;
        printf "n = %d, node%d (%d shards): %.3f recovery bytes per pair "
            . "byte, %.3f all bytes, in %.1f s\n", $n, $x, $h->{shards},
            $h->{recovery} / $h->{pair_bytes},
            $h->{downloads}{all}{bytes} / $h->{pair_bytes}, $h->{wall};
        sleep 1;
    }
    $t->stop;
    undef $t;
    return \@res;
}

# perf record of processes, threads included, until perf_stop
sub perf_start {
    my ($name, @pids) = @_;
    my $data = "$dir/perf.$name.data";
    my $pid = fork // die;
    if ($pid == 0) {
        open STDOUT, '>', "$dir/logs/perf.$name.log";
        open STDERR, '>&', \*STDOUT;
        exec 'perf', 'record', '-e', 'cpu-clock', '-F', '1000',
            '--call-graph', 'dwarf,16384', '-o', $data, '-p',
            join(',', @pids) or exit 127;
    }
    return [ $pid, $data ];
}

# the walrus functions by the share of the samples under them (children),
# and the symbols by their own share
sub perf_stop {
    my ($p) = @_;
    kill 'INT', $p->[0];
    waitpid $p->[0], 0;
    return perf_report($p->[1]);
}

sub perf_report {
    my ($data) = @_;
    my $rep = "perf report -i $data --stdio -g none --no-inline 2>/dev/null";
    my (@self, @under);
    for (split /\n/, `$rep -q --no-children --sort dso,sym --percent-limit 2`)
    {
        push @self, [ $1, $2, $3 ]
            if /^\s*([\d.]+)%\s+(\S+)\s+\[.\]\s+(.+?)\s*$/;
    }
    for (split /\n/, `$rep -q --children --sort sym --percent-limit 3`) {
        push @under, [ $1, $2 ]
            if /^\s*([\d.]+)%\s+[\d.]+%\s+\[.\]\s+
                ((?:ngx_)?walrus_\S+|__libc_p?write\S*|f(?:data)?sync
                 |__memmove\S+)/x;
    }
    my ($samples) = `$rep --no-children --sort dso` =~ /^# Samples: (\S+)/m;
    unlink $data, "$data.old";
    return { self => \@self, under => \@under, samples => $samples // '?' };
}

# --- part 2: time to heal a node holding about $HEAL_SIZE -------------------

sub part2 {
    my $n = 7;
    network($n, $n);
    my (undef, $p, $s) = params($n);
    my $per_blob = ($p + $s) * sum(segment_syms($n, $BLOB));
    my $count = max(1, ceil($HEAL_SIZE / $per_blob));
    my $avail = (split ' ', (split /\n/, run_cmd("df -Pk $dir"))[1])[3]
                * 1024;
    my $need = $count * $per_blob * $n + 2 * $BLOB;
    die sprintf("part 2 needs %.1f GB on %s, %.1f GB free\n", $need / 1e9,
                $dir, $avail / 1e9) if $need > $avail * 0.8;

    print "part 2: $count blobs of 64 MiB, ", r2($count * $per_blob / $GiB),
          " GiB of slivers per node\n";
    my @ids;
    for my $k (1 .. $count) {
        push @ids, put_blob(blob_file("$dir/blob", $k));
        unlink "$dir/blob";
    }
    WalrusTest::eventually(sub { all_hold(@ids) }, 600)
        or die "not every node holds every blob\n";
    sleep 3;

    my @res;
    for my $rep (1 .. $REPS) {
        my $x = 1 + ($rep - 1) % ($t->n - 1);
        for my $mode ('one nginx', 'healer apart') {
            my $split = $mode eq 'one nginx' ? undef : split_start($x);
            sleep 3;
            my $l0 = loadavg();
            my $h = heal($x, \@ids, split => $split);
            split_stop($split) if $split;
            $h->{node} = $x;
            $h->{mode} = $mode;
            $h->{blobs} = $count;
            $h->{load} = [ $l0, loadavg() ];
            $h->{downloads} = downloads($h);
            ($h->{peer_time}, $h->{first_call}) = peer_time($h);
            push @res, $h;
            printf "%s, node%d: %.2f GiB in %.1f s (%.0f MB/s); CPU s: "
                . "%.1f loop + %.1f threads (healer %.1f + %.1f); "
                . "machine %.0f %% busy\n", $mode, $x,
                $h->{pair_bytes} / $GiB, $h->{wall},
                $h->{pair_bytes} / $h->{wall} / 1e6,
                $h->{loop} + $h->{peer_loop}, $h->{pool} + $h->{peer_pool},
                $h->{loop}, $h->{pool}, 100 * $h->{machine_busy};
        }
    }
    if ($PERF && system('perf record -e cpu-clock -o /dev/null true '
                        . '>/dev/null 2>&1') == 0)
    {
        # one more heal, not timed: the healer and the peers profiled
        my $x = 4;
        my $split = split_start($x);
        sleep 3;
        my %perf = (healer => perf_start('healer', worker_pids($split)),
                    peers => perf_start('peers', worker_pids()));
        sleep 1;
        my $h = heal($x, \@ids, split => $split);
        my %prof = map { $_ => perf_stop($perf{$_}) } keys %perf;
        $prof{wall} = $h->{wall};
        split_stop($split);
        $res[0]{profile} = \%prof;
    }
    $t->stop;
    undef $t;
    return \@res;
}

# after a failure, nginx stops before the directory is removed (this END
# block runs before File::Temp's)
END {
    for my $pidfile (grep { defined } $healer_pid,
                     $t ? $t->dir . '/logs/nginx.pid' : undef) {
        my $pid = WalrusTest::read_file($pidfile) // next;
        chomp $pid;
        kill 'QUIT', $pid or next;
        for (1 .. 600) { last unless kill 0, $pid; sleep 0.05 }
    }
}

$SIG{INT} = $SIG{TERM} = sub { exit 1 };


my (%r1, $r2);
$r1{"@$_"} = part1(@$_) for @NS;
$r2 = part2() if $HEAL_SIZE;


# --- results ----------------------------------------------------------------

sub pct { sprintf '%.1f %%', 100 * $_[0] }

# the median and the range, or the one value
sub spread {
    my (@v) = @_;
    return $v[0] unless grep { $_ ne $v[0] } @v;
    return @v == 1 ? $v[0]
         : sprintf '%s (%s to %s)', median(@v), min(@v), max(@v);
}

my $cpu = (run_cmd("grep -m1 '^model name' /proc/cpuinfo") =~ /: (.*)/)[0];
out(sprintf 'Run: %s UTC, commit %s, nproc %s, "%s", %d worker(s), '
    . 'walrus_node_keeper_interval %s; load average %s at the start, %s '
    . 'at the end.', strftime('%Y-%m-%d %H:%M', gmtime $started),
    (run_cmd("git -C $ROOT rev-parse --short HEAD") =~ s/\s+//r),
    (run_cmd('nproc') =~ s/\s+//r), $cpu, $WORKERS, $INTERVAL, $load0,
    loadavg());
out('');

if (@NS) {
    out(sprintf('### 1. Bytes downloaded per byte rebuilt (64 MiB blob, '
                . 'S = %d MiB)', $SEGMENT / $MiB), '',
        '| n | node servers | shards of the healer | pair bytes | '
        . '**all downloads / pair** | recovery answers / pair | '
        . 'floor 1 + proof / sym | naive: blob / pair '
        . '| proofs | extra symbols | headers (answer + HTTP) | 429s '
        . '| record + metadata | heal s | CPU s |',
        '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
        . '---:|---:|');
    for (@NS) {
        my ($n, $k) = @$_;
        my @r = @{$r1{"@$_"}};
        my @ratio = map { r3($_->{recovery} / $_->{pair_bytes}) } @r;
        my @all = map { r3($_->{downloads}{all}{bytes} / $_->{pair_bytes}) }
                  @r;
        my @naive = map { r2($BLOB / $_->{pair_bytes}) } @r;
        my $f = sub {
            my ($key) = @_;
            spread(map { sprintf '%.1f', 100 * $_->{parts}{$key}
                                              / $_->{pair_bytes} } @r)
                . ' %';
        };
        my $hdr = spread(map { sprintf '%.2f', 100 * ($_->{parts}{headers}
                             + $_->{parts}{http}) / $_->{pair_bytes} } @r)
                  . ' %';
        out(sprintf '| %d | %d | %s | %s | **%s** | %s | %s | %s | %s | %s '
            . '| %s | %s | %s | %s | %s |', $n, $k,
            spread(map { $_->{shards} } @r),
            spread(map { $_->{pair_bytes} } @r),
            spread(@all), spread(@ratio),
            r3(1 + proof_len($n) / sym_size($n, $SEGMENT)),
            spread(@naive), $f->('proofs'),
            $f->('extra'), $hdr, $f->('busy'), $f->('other'),
            spread(map { r1($_->{wall}) } @r),
            spread(map { r1($_->{loop} + $_->{pool}) } @r));
    }
    out('');
}

if ($r2) {
    my @r = @$r2;
    out(sprintf('### 2. Time to heal a wiped node (n = 7, 7 node servers, '
                . '%d blobs of 64 MiB)', $r[0]{blobs}), '',
        '| setup | healer | slivers GiB | heal s | MB/s | first pair s | '
        . 'a recovery call out s | CPU s: loop + threads | of which the '
        . 'healer | cores used | machine busy | 429s | recovery calls '
        . '| load avg |',
        '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
        . '---:|');
    for my $h (@r) {
        my $d = $h->{downloads};
        my $all = $h->{loop} + $h->{pool} + $h->{peer_loop}
                  + $h->{peer_pool};
        out(sprintf '| %s | node%d | %.2f | %.1f | %.0f | %.1f '
            . '| %.1f (%.0f %%) | %.1f + %.1f | %s | %.2f | %.0f %% | %d '
            . '| %d | %s to %s |', $h->{mode},
            $h->{node}, $h->{pair_bytes} / $GiB, $h->{wall},
            $h->{pair_bytes} / $h->{wall} / 1e6, $h->{first},
            $h->{peer_time}, 100 * $h->{peer_time} / $h->{wall},
            $h->{loop} + $h->{peer_loop}, $h->{pool} + $h->{peer_pool},
            $h->{mode} eq 'one nginx' ? '-'
                : sprintf('%.1f + %.1f', $h->{loop}, $h->{pool}),
            $all / $h->{wall}, 100 * $h->{machine_busy},
            $d->{429}{count} // 0, $d->{recovery}{count} // 0,
            @{$h->{load}});
    }
    out('');
}

if ($r2 && $r2->[0]{profile}) {
    my $prof = $r2->[0]{profile};
    for my $who (qw(healer peers)) {
        my $p = $prof->{$who};
        out(sprintf('### Profile of the %s during one more heal (healer '
                    . 'apart, %.1f s, %s samples at 1 kHz)', $who,
                    $prof->{wall}, $p->{samples}), '',
            '| under it % | function |', '|---:|---|',
            (map { sprintf '| %s | `%s` |', @$_ } @{$p->{under}}), '',
            '| self % | object | symbol |', '|---:|---|---|',
            (map { sprintf '| %s | %s | `%s` |', @$_ } @{$p->{self}}), '');
    }
}

out(sprintf 'Took %.0f s.', time - $started);

my $outdir = $OUT =~ s{/[^/]*$}{}r;
system('mkdir', '-p', $outdir);
WalrusTest::write_file($OUT, join("\n", @md) . "\n");
print "written to $OUT\n";

done_testing();
