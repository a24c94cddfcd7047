#!/usr/bin/env perl
# Audit benchmark: what the storage audits (docs/protocol.md section 17)
# cost a node per round, in bytes on the wire and in CPU.
#
# A network of 7 nodes (n = 7, one shard each) in one nginx, as the test
# harness writes it (t/lib/WalrusTest.pm), holds 1,000 small blobs stored
# on every node directly (registration, metadata, slivers, a certificate
# that all 7 nodes signed: every node promised every blob).  Then, REPS
# times:
#
#   1. audits on (walrus_node_audit_interval I): from the moment a round
#      opens until ROUNDS more rounds opened, the CPU of the nginx
#      processes (utime + stime from /proc, event loop and thread pool
#      apart) and every audit request the nodes served and made;
#   2. audits off (walrus_node_audit_interval 0): the CPU over a window of
#      the same length, after the same settling time;
#   3. beacon polls only: an interval at which no round opens in the
#      window but the keepers ask their peers for a newer beacon at every
#      keeper round (as they do from half an interval after they took the
#      newest one); the same.
#
# The CPU of a round is (1) - (2); a poll costs ((3) - (2)) / polls, and
# the round without its polls is what is left.
#
# Bytes: each node server logs what it serves under /v1/audit/
# ($request_length in, $bytes_sent out, headers included) and its
# keeper's calls to peers (log_subrequest: $upstream_bytes_sent out,
# $upstream_bytes_received in).  A node's bytes are both sides.  Every
# answer (GET /v1/audit/rounds/{r}/answer?blobs=...) is checked against
# the size the protocol gives (17.3): 45 + 64 + per blob 35 + per pair
# (14 + 2 z + 2 * 32 * ceil(log2 n)).
#
# Run with `make bench-audit` (after bench/audit_sim) or alone:
#
#   perl bench/audit_bench.pl
#
# Environment: WALRUS_BENCH_BLOBS (1000), WALRUS_BENCH_BLOB_SIZE (bytes
# of each blob, a multiple of 4, 4096), WALRUS_BENCH_SEGMENT (65536),
# WALRUS_BENCH_INTERVAL (walrus_node_audit_interval in seconds, 30),
# WALRUS_BENCH_KEEPER (walrus_node_keeper_interval in seconds, 5: the
# default; a shorter one multiplies the keeper's own work, about 20 ms
# per node and keeper round with 1,000 blobs, which the windows must
# tell apart from a round's),
# WALRUS_BENCH_ROUNDS (audit rounds per window, 6), WALRUS_BENCH_REPS
# (2), WALRUS_BENCH_SETTLE (seconds after a start before a window, 15),
# WALRUS_BENCH_OUT (the markdown results, build/bench/audit.md),
# WALRUS_KEEP=1 keeps the directory.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../t/lib";

use Test::More;
use WalrusTest;
use POSIX qw(strftime ceil);
use List::Util qw(min max sum sum0);
use Time::HiRes qw(time sleep);
use File::Path qw(remove_tree);

$| = 1;

my $N = 7;
my $BLOBS = $ENV{WALRUS_BENCH_BLOBS} // 1000;
my $SIZE = $ENV{WALRUS_BENCH_BLOB_SIZE} // 4096;
my $SEGMENT = $ENV{WALRUS_BENCH_SEGMENT} // 65536;
my $I = $ENV{WALRUS_BENCH_INTERVAL} // 30;
my $KEEPER = $ENV{WALRUS_BENCH_KEEPER} // 5;
my $ROUNDS = $ENV{WALRUS_BENCH_ROUNDS} // 6;
my $REPS = $ENV{WALRUS_BENCH_REPS} // 2;
my $SETTLE = $ENV{WALRUS_BENCH_SETTLE} // 15;
my $ROOT = $WalrusTest::ROOT;
my $OUT = $ENV{WALRUS_BENCH_OUT} // "$ROOT/build/bench/audit.md";
my $HZ = POSIX::sysconf(POSIX::_SC_CLK_TCK());
my $C = 32;     # WALRUS_AUDIT_BLOBS

die "WALRUS_BENCH_BLOB_SIZE must be a multiple of 4\n" if $SIZE % 4;

my $started = time;
my $load0 = loadavg();

sub loadavg { (split ' ', WalrusTest::read_file('/proc/loadavg'))[0] }

my @md;
sub out { push @md, @_; print map { "$_\n" } @_; }

sub run_cmd {
    my ($cmd) = @_;
    my $out = `$cmd`;
    die "failed: $cmd\n" if $? != 0;
    return $out;
}

# --- protocol figures (docs/protocol.md sections 1, 2, 5, 17.3) -------------

my $F = int(($N - 1) / 3);
my ($P, $S) = ($N - 2 * $F, $N - $F);

sub sym_size {
    my ($len) = @_;
    my $sym = max(1, ceil($len / ($P * $S)));
    return 64 * ceil($sym / 64);
}

my $PROOF = 32 * ceil(log($N) / log(2));

# an answer's entry for a held blob with q pairs of symbol size z, and a
# whole answer of m held blobs
sub blob_entry {
    my ($z, $q) = @_;
    return 32 + 1 + 2 + $q * (14 + 2 * $z + 2 * $PROOF);
}
sub answer_size { my ($m, $z) = @_; 45 + $m * blob_entry($z, 1) + 64 }

# --- the network ------------------------------------------------------------

my $t = WalrusTest->new(n => $N, segment_size => $SEGMENT);
my $dir = $t->dir;

# nginx maps the module file: a `make` meanwhile must not change it
system('cp', $WalrusTest::MODULE, "$dir/ngx_http_walrus_module.so") == 0
    or die "cannot copy $WalrusTest::MODULE\n";
$WalrusTest::MODULE = "$dir/ngx_http_walrus_module.so";

# the harness's node location, which also logs what it serves, and its
# peer location, which logs the keeper's calls
my $NODE = ($WalrusTest::NODE_LOCATION
            =~ s{^(\s*)walrus_node;$}{$1walrus_node;
$1access_log %%DIR%%/logs/serve%%NODE%%.log serve;}mr)
    . ($WalrusTest::NODE_PROXY =~ s{%%NODE_PROXY_EXTRA%%}{log_subrequest on;
            access_log %%DIR%%/logs/calls%%NODE%%.log calls;}r);

sub config {
    my ($interval) = @_;
    $t->write_config(node => $NODE, gateway => 0, http => <<"EOF");
    walrus_node_keeper_interval ${KEEPER}s;
    walrus_node_audit_interval ${interval}s;
    log_format serve '\$msec \$status \$request_length \$bytes_sent '
                     '\$body_bytes_sent \$request_uri';
    log_format calls '\$msec \$walrus_node \$walrus_node_uri \$status '
                     '\$upstream_bytes_sent \$upstream_bytes_received';
EOF
}

# --- blobs, stored on every node directly -----------------------------------

# $t->store_directly: as a writer that bypasses the gateway
# (registration, metadata, each node's pair, then a certificate of every
# node's confirmation); the encoded files are removed once stored
sub store_blob {
    my ($content) = @_;
    my $id = $t->encode($content);
    my $signers = $t->store_directly($id, length $content);
    die "blob $id: $signers of $N nodes confirmed\n" if $signers != $N;
    remove_tree($t->{encoded}{$id});
    return $id;
}

# --- measurements -----------------------------------------------------------

sub worker_pids { $t->worker_pids }

# CPU seconds of the nginx processes: (event loops, thread pools)
sub nginx_cpu {
    my ($loop, $pool) = (0, 0);
    for my $pid ($t->master_pid, worker_pids()) {
        for my $task (glob "/proc/$pid/task/*") {
            my $stat = WalrusTest::read_file("$task/stat") // next;
            my @f = split ' ', $stat =~ s/^.*\) //sr;
            my $ticks = $f[11] + $f[12];
            if ($task =~ m{/$pid$}) {
                $loop += $ticks;
            } else {
                $pool += $ticks;
            }
        }
    }
    return ($loop / $HZ, $pool / $HZ);
}

# the machine's CPU: (busy, total) ticks over all CPUs
sub machine_cpu {
    my ($cpu) = (WalrusTest::read_file('/proc/stat') // '') =~ /^cpu\s+(.*)$/m;
    my @f = split ' ', $cpu;
    return (sum(@f[0 .. 7]) - $f[3] - $f[4], sum(@f[0 .. 7]));
}

# the newest round node $i holds
sub newest {
    my ($i) = @_;
    my $b = WalrusTest::read_file($t->store($i) . '/audit/latest') // return 0;
    return length $b >= 9 ? unpack('V', substr $b, 5, 4) : 0;
}

sub kind {
    my ($uri) = @_;
    return $uri =~ m{^/v1/audit/beacon} ? 'beacon polls'
         : $uri =~ m{^/v1/audit/rounds/\d+/signature} ? 'round signatures'
         : $uri =~ m{^/v1/audit/rounds/\d+/answer} ? 'answers'
         : $uri =~ m{^/v1/audit/rounds/\d+/attestations/} ? 'attestations'
         : $uri =~ m{^/v1/audit/} ? 'other audit'
         : undef;
}

# what node $i served and asked under /v1/audit/ between $from and $to
sub audit_lines {
    my ($i, $from, $to) = @_;
    my (@served, @asked);
    for (split /\n/, WalrusTest::read_file("$dir/logs/serve$i.log") // '') {
        my ($at, $status, $in, $out, $body, $uri) = split ' ', $_, 6;
        next if $at < $from || $at >= $to;
        my $kind = kind($uri) // next;
        push @served, { kind => $kind, status => $status, in => $in,
                        out => $out, body => $body, uri => $uri };
    }
    for (split /\n/, WalrusTest::read_file("$dir/logs/calls$i.log") // '') {
        my ($at, $node, $uri, $status, $out, $in) = split ' ', $_, 6;
        next if $at < $from || $at >= $to || $node eq '-';
        my $kind = kind($uri) // next;
        # several upstream tries are listed with commas
        ($out, $in) = map { sum0(map { /^\d+$/ ? $_ : 0 } split /[ ,:]+/,
                                 $_ // '') } $out, $in;
        push @asked, { kind => $kind, status => $status, in => $in,
                       out => $out, uri => $uri };
    }
    return (\@served, \@asked);
}

# restarts nginx with audits every $interval s (0: off)
sub start {
    my ($interval) = @_;
    $t->stop if $t->master_pid;
    config($interval);
    $t->run;
}

# waits until node 0 holds round $r
sub wait_round {
    my ($r, $deadline) = @_;
    until (newest(0) >= $r) {
        die "round $r did not open within the deadline\n" if time > $deadline;
        sleep 0.02;
    }
}

# one window: [start time, end time, CPU loop, CPU pool, machine busy share]
sub window_cpu {
    my ($body) = @_;
    my @c0 = nginx_cpu();
    my @m0 = machine_cpu();
    my $t0 = time;
    $body->();
    my $t1 = time;
    my @c1 = nginx_cpu();
    my @m1 = machine_cpu();
    return { from => $t0, to => $t1, loop => $c1[0] - $c0[0],
             pool => $c1[1] - $c0[1],
             busy => ($m1[0] - $m0[0]) / max(1, $m1[1] - $m0[1]),
             load => loadavg() };
}

sub audits_on {
    start($I);
    sleep $SETTLE;
    my $r0 = newest(0) + 1;
    wait_round($r0, time + 4 * $I + 30);
    my $w = window_cpu(sub {
        wait_round($r0 + $ROUNDS, time + ($ROUNDS + 2) * $I * 2 + 30);
    });
    $w->{rounds} = $ROUNDS;
    $w->{first} = $r0;

    # the certificates of the window's rounds, the last one's a little late
    sleep 3 * $KEEPER;
    $w->{certified} = 0;
    for my $r ($r0 .. $r0 + $ROUNDS - 1) {
        $w->{certified} += grep {
            -s $t->store($_) . "/audit/rounds/$r/certificate" } 0 .. $N - 1;
    }
    for my $i (0 .. $N - 1) {
        @{$w->{nodes}[$i]}{qw(served asked)} = audit_lines($i, $w->{from},
                                                           $w->{to});
    }
    return $w;
}

# An audit interval X at which the nodes poll their peers' beacons at
# every keeper round of a window of $length s and no round opens: a node
# polls once after its start, then from X / 2 after it took its newest
# beacon (the file's time, T), and the next round opens X after T.  So X
# is twice the time since the latest T, once the earliest T is far
# enough back that X also reaches past the window's end.
sub polls_interval {
    my ($length) = @_;
    for (;;) {
        my @ago = map { time - (stat($t->store($_) . '/audit/latest'))[9] }
                  0 .. $N - 1;
        my $x = int(2 * min(@ago)) - 2;
        return $x if $x >= max(@ago) + $SETTLE + $length + 2 * $KEEPER + 10;
        sleep 1;
    }
}

# a window of $length s with audits at $interval s (0: off), no round
# opening in it
sub audits_idle {
    my ($length, $interval) = @_;
    start($interval);
    sleep $SETTLE;
    my $w = window_cpu(sub { sleep $length });
    for my $i (0 .. $N - 1) {
        @{$w->{nodes}[$i]}{qw(served asked)} = audit_lines($i, $w->{from},
                                                           $w->{to});
    }
    return $w;
}

END {
    if ($t && $t->master_pid && kill 0, $t->master_pid) {
        kill 'QUIT', $t->master_pid;
    }
}

$SIG{INT} = $SIG{TERM} = sub { exit 1 };

# --- the run ----------------------------------------------------------------

config(0);
$t->run;
print "network: $dir\n";

my $t0 = time;
my @ids;
for my $k (1 .. $BLOBS) {
    push @ids, store_blob(WalrusTest::pattern_blob($SIZE, $k));
    print "stored $k blobs\n" if $k % 100 == 0;
}
my $store_s = time - $t0;
printf "%d blobs of %d bytes stored on every node in %.0f s\n", $BLOBS,
    $SIZE, $store_s;

# every node holds every certified blob
for my $i (0 .. $N - 1) {
    my $have = grep { -e $t->store($i) . "/$_/certificate" } @ids;
    die "node$i holds $have certified blobs of $BLOBS\n" if $have != $BLOBS;
}

my (@on, @polls, @off);
for my $rep (1 .. $REPS) {
    my $on = audits_on();
    push @on, $on;
    printf "audits on: rounds %d to %d in %.1f s, CPU %.2f + %.2f s\n",
        $on->{first}, $on->{first} + $ROUNDS, $on->{to} - $on->{from},
        $on->{loop}, $on->{pool};
    my $length = $on->{to} - $on->{from};
    my $off = audits_idle($length, 0);
    push @off, $off;
    printf "audits off: %.1f s, CPU %.2f + %.2f s\n", $off->{to} - $off->{from},
        $off->{loop}, $off->{pool};
    my $polls = audits_idle($length, polls_interval($length));
    push @polls, $polls;
    printf "beacon polls only: %.1f s, CPU %.2f + %.2f s\n",
        $polls->{to} - $polls->{from}, $polls->{loop}, $polls->{pool};
}

# a challenge by hand against every node (walrusctl audit), half an
# interval after a round opened: the verifier's side alone, timed; a
# challenge that does not pass is tried again (up to 3 times, 2 s apart)
my @manual;
start($I);
wait_round(newest(0) + 1, time + 4 * $I + 30);
sleep $I / 2;
for my $i (0 .. $N - 1) {
    my $m = { node => $i, tries => [] };
    for my $try (1 .. 3) {
        my @c0 = (times)[2, 3];
        my $w0 = time;
        my ($rc, $out, $err) = WalrusTest::capture({}, $dir, $WalrusTest::CTL,
            '-c', "$dir/committee.json", 'audit', "node$i");
        my @c1 = (times)[2, 3];
        my $ok = $rc == 0 && $out =~ /^node \S+ round \d+: passed$/m;
        push @{$m->{tries}}, { ok => $ok, err => $err =~ s/\s+\z//r,
                               cpu => $c1[0] + $c1[1] - $c0[0] - $c0[1],
                               wall => time - $w0 };
        $m->{ok} = $ok;
        last if $ok;
        sleep 2;
    }
    push @manual, $m;
}
$t->stop;

# --- results ----------------------------------------------------------------

my $z = sym_size(min($SIZE, $SEGMENT));
my $entry = blob_entry($z, 1);

sub mean { sum0(@_) / max(1, scalar @_) }
sub spread {
    my ($fmt, @v) = @_;
    my $m = sprintf $fmt, mean(@v);
    return @v > 1 ? sprintf("$m (%s to %s)", map { sprintf $fmt, $_ }
                            min(@v), max(@v)) : $m;
}

# per node and round: [sent, received] of one window
sub node_bytes {
    my ($w, $i) = @_;
    my $n = $w->{nodes}[$i];
    my $sent = sum0(map { $_->{out} } @{$n->{served}}, @{$n->{asked}});
    my $recv = sum0(map { $_->{in} } @{$n->{served}}, @{$n->{asked}});
    return map { $_ / $w->{rounds} } $sent, $recv;
}

# answers: the bytes against the protocol's
my ($answers, $bad, @per_blob) = (0, 0);
for my $w (@on) {
    for my $i (0 .. $N - 1) {
        for my $a (grep { $_->{kind} eq 'answers' && $_->{status} == 200 }
                   @{$w->{nodes}[$i]{served}})
        {
            my ($list) = $a->{uri} =~ /[?&]blobs=([^&\s]*)/;
            my $m = () = ($list // '') =~ /[^,]+/g;
            $answers++;
            $bad++ if $a->{body} != answer_size($m, $z);
            push @per_blob, ($a->{body} - 109) / $m if $m;
        }
    }
}

my $cpu = (run_cmd("grep -m1 '^model name' /proc/cpuinfo") =~ /: (.*)/)[0];
out(sprintf 'Run: %s UTC, commit %s, nproc %s, "%s"; n = %d (one shard '
    . 'per node, one nginx, one worker), %d blobs of %d bytes stored on '
    . 'every node directly (all %d nodes signed each certificate), segment '
    . 'size %d; walrus_node_keeper_interval %d s, walrus_node_audit_interval '
    . '%d s, windows of %d rounds, %d repetitions; load average %s at the '
    . 'start, %s at the end.', strftime('%Y-%m-%d %H:%M', gmtime $started),
    (run_cmd("git -C $ROOT rev-parse --short HEAD") =~ s/\s+//r),
    (run_cmd('nproc') =~ s/\s+//r), $cpu, $N, $BLOBS, $SIZE, $N, $SEGMENT,
    $KEEPER, $I, $ROUNDS, $REPS, $load0, loadavg());
out('');

out('### Bytes per node and audit round', '',
    '| window | rounds | s per round | certificates made of these rounds '
    . '| sent per node and round | received per node and round '
    . '| node min to max (sent) |',
    '|---|---:|---:|---:|---:|---:|---:|');
for my $k (0 .. $#on) {
    my $w = $on[$k];
    my @s = map { (node_bytes($w, $_))[0] } 0 .. $N - 1;
    my @r = map { (node_bytes($w, $_))[1] } 0 .. $N - 1;
    out(sprintf '| audits on, %d | %d to %d | %.1f | %d of %d | %.0f | %.0f '
        . '| %.0f to %.0f |', $k + 1, $w->{first}, $w->{first} + $ROUNDS - 1,
        ($w->{to} - $w->{from}) / $ROUNDS, $w->{certified}, $N * $ROUNDS,
        mean(@s), mean(@r), min(@s), max(@s));
}
for my $k (0 .. $#polls) {
    my $w = $polls[$k];
    my @l = map { @{$w->{nodes}[$_]{served}} } 0 .. $N - 1;
    out(sprintf '| beacon polls only, %d | - | - | - | %d requests served '
        . '(%d beacon polls), %d bytes: %.0f per node and keeper round | | |',
        $k + 1, scalar @l, polls_in($w), sum0(map { $_->{in} + $_->{out} } @l),
        sum0(map { $_->{in} + $_->{out} } @l) / $N
        / (($w->{to} - $w->{from}) / $KEEPER));
}
for my $k (0 .. $#off) {
    my $w = $off[$k];
    my $b = sum0(map { my $n = $w->{nodes}[$_];
                       map { $_->{in} + $_->{out} }
                       @{$n->{served}}, @{$n->{asked}} } 0 .. $N - 1);
    out(sprintf '| audits off, %d | - | - | - | %d bytes of audit requests '
        . 'in the window | | |', $k + 1, $b);
}
out('');

# by kind, from the serving side (each exchange once): per round and node
out('### What the bytes are (served side, per node and round, mean of the '
    . 'windows)', '',
    '| kind | requests | by status | request bytes | answer bytes | answer '
    . 'body bytes | bytes per request |',
    '|---|---:|---|---:|---:|---:|---:|');
my %k;
for my $w (@on) {
    for my $i (0 .. $N - 1) {
        for my $s (@{$w->{nodes}[$i]{served}}) {
            my $e = $k{$s->{kind}} //= {};
            $e->{count}++;
            $e->{status}{$s->{status}}++;
            $e->{in} += $s->{in};
            $e->{out} += $s->{out};
            $e->{body} += $s->{body};
        }
    }
}
my $per = $N * $ROUNDS * @on;
for my $kind ('answers', 'beacon polls', 'round signatures', 'attestations',
              'other audit')
{
    my $e = $k{$kind} // next;
    out(sprintf '| %s | %.1f | %s | %.0f | %.0f | %.0f | %.0f |', $kind,
        $e->{count} / $per,
        join(', ', map { sprintf '%s: %.1f', $_, $e->{status}{$_} / $per }
                   sort keys %{$e->{status}}),
        $e->{in} / $per,
        $e->{out} / $per, $e->{body} / $per,
        ($e->{in} + $e->{out}) / $e->{count});
}
out('');

out('### Answer size', '',
    sprintf('Protocol 17.3 at n = %d with one pair per node: %d bytes per '
            . 'challenged blob (32 ID + 1 held + 2 pair count + 14 pair, '
            . 'segment, leaves and size + 2 symbols of z = %d bytes + 2 '
            . 'proofs of %d bytes), plus 109 bytes per answer (45 header, '
            . '64 signature): %d bytes for %d blobs.  Measured: %d answers '
            . 'with status 200, %d of them of another body size than this; '
            . 'body bytes per challenged blob %s.', $N, $entry, $z, $PROOF,
            answer_size($C, $z), $C, $answers, $bad,
            @per_blob ? spread('%.1f', @per_blob) : '-'),
    '');

sub cpu_of { $_[0]{loop} + $_[0]{pool} }

# beacon requests the nodes served in a window (each one a poll made too)
sub polls_in {
    my ($w) = @_;
    return scalar grep { $_->{kind} eq 'beacon polls' }
                  map { @{$w->{nodes}[$_]{served}} } 0 .. $N - 1;
}

out('### CPU per audit round (all 7 nodes are one nginx worker)', '',
    '| repetition | window s | audits on | beacon polls only | audits off '
    . '| on - off | polls - off | polls on / polls only | CPU per poll, '
    . 'both sides, ms | **per round and node, ms** | of which beacon polls '
    . '| machine busy on / polls / off | load on / polls / off |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
my (@diff, @round, @poll);
for my $k (0 .. $#on) {
    my ($a, $p, $b) = ($on[$k], $polls[$k], $off[$k]);
    my $d = cpu_of($a) - cpu_of($b);
    my ($pa, $pp) = (polls_in($a), polls_in($p));
    my $per_poll = $pp ? (cpu_of($p) - cpu_of($b)) / $pp : 0;
    push @diff, 1000 * $d / $ROUNDS / $N;
    push @round, 1000 * ($d - $pa * $per_poll) / $ROUNDS / $N;
    push @poll, 1000 * $per_poll;
    out(sprintf '| %d | %.1f | %.2f + %.2f | %.2f + %.2f | %.2f + %.2f '
        . '| %.2f | %.2f | %d / %d | %.3f | **%.1f** | %.1f '
        . '| %.0f %% / %.0f %% / %.0f %% | %s / %s / %s |', $k + 1,
        $a->{to} - $a->{from}, $a->{loop}, $a->{pool}, $p->{loop},
        $p->{pool}, $b->{loop}, $b->{pool}, $d, cpu_of($p) - cpu_of($b),
        $pa, $pp, $poll[-1], $diff[-1], $diff[-1] - $round[-1],
        100 * $a->{busy}, 100 * $p->{busy}, 100 * $b->{busy}, $a->{load},
        $p->{load}, $b->{load});
}
my @base = map { 1000 * cpu_of($_) / $N / (($_->{to} - $_->{from}) / $KEEPER) }
           @off;
out('', sprintf('CPU per audit round and node: %s ms, of which %s ms '
                . 'without the beacon polls of the round (%.1f polls made '
                . 'and served per node and round at these intervals, %s ms '
                . 'each, both sides).  Audits off, the nodes spend %s ms '
                . 'per node and keeper round (%d s).', spread('%.1f', @diff),
                spread('%.1f', @round),
                mean(map { polls_in($_) } @on) / $ROUNDS / $N,
                spread('%.3f', @poll),
                spread('%.1f', @base), $KEEPER), '');

out('### A challenge by hand (walrusctl audit NODE, the verifier alone, '
    . 'half an interval into a round)', '',
    '| node | verdict | CPU ms | wall ms |', '|---:|---|---:|---:|');
for my $m (@manual) {
    for my $try (@{$m->{tries}}) {
        out(sprintf '| %d | %s | %.0f | %.0f |', $m->{node},
            $try->{ok} ? 'passed' : "not passed: $try->{err}",
            1000 * $try->{cpu}, 1000 * $try->{wall});
    }
}
out('');

out(sprintf 'Stored the blobs in %.0f s; took %.0f s.', $store_s,
    time - $started);

my $outdir = $OUT =~ s{/[^/]*$}{}r;
system('mkdir', '-p', $outdir);
WalrusTest::write_file($OUT, join("\n", @md) . "\n");
print "written to $OUT\n";

ok($bad == 0, 'every answer has the size protocol 17.3 gives');
ok(!grep({ !$_->{ok} } @manual), 'every node passes a challenge by hand');

done_testing();
