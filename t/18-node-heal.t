# Self-healing storage nodes: a node that was down during an upload, lost
# its store or part of it, gets back exactly its slivers from its peers
# (recovery symbols, verified), byte for byte what walrusctl encodes, and
# signs for the blob again; peers that lie or cut their answers short are
# named and worked around; through churn every blob stays readable.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use HTTP::Tiny;
use Time::HiRes qw(sleep);
use WalrusTest;

my $S = 4096;
my $t = WalrusTest->new(n => 7, segment_size => $S);
my ($n, $dir) = ($t->n, $t->dir);
my $P = 'WalrusTest::Proto';
my $CTL = $WalrusTest::CTL;

# every node keeps its store: the keeper of each node server runs in the
# one nginx's worker, a round every 300 ms, its peer calls through the
# harness's "location /_walrus_node/" in the node's server
# (and the nodes' Prometheus metrics, operations.md "Metrics")
my $mport = WalrusTest::free_port();
my $HTTP = <<"EOF";
    walrus_node_keeper_interval 300ms;

    server {
        listen 127.0.0.1:$mport;

        location = /metrics {
            walrus_metrics;
        }
    }
EOF

my $NODE = <<'EOF';
        location / {
            walrus_node;
            walrus_node_name node%%NODE%%;
            walrus_node_key %%DIR%%/keys/node%%NODE%%.key;
            walrus_node_store %%DIR%%/store%%NODE%%;
        }

        location /_walrus_node/ {
            internal;
            proxy_pass http://walrus_$walrus_node$walrus_node_uri;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_headers off;
            proxy_buffering off;
            proxy_connect_timeout 2s;
            proxy_read_timeout 10s;
            proxy_next_upstream off;
        }
EOF

sub confirms {
    my ($i, $id) = @_;
    return $t->node_request($i, 'GET', "/v1/blobs/$id/confirmation")
        ->{status} == 200;
}

sub readable {
    my ($id, $blob) = @_;
    my $r = $t->get_blob($id);
    return $r->{status} == 200 && $r->{content} eq $blob;
}

# --- a node down during an upload ---------------------------------------------

$t->write_config(gateway => 1, http => $HTTP, node => $NODE, down => [3])
  ->run;

my @blobs = map { WalrusTest::blob_of($_, 11 + $_ % 7) }
            (5 * $S + 123, 100, 3 * $S);
my @ids;
for my $b (@blobs) {
    my $id = $t->put_blob($b);
    push @ids, $id;
    is($id, $t->encode($b), 'a blob is stored while node 3 is down');
}
ok(!-e $t->store(3) . "/$ids[0]", 'node 3 got nothing of it');

my $mark = $t->log_mark;
$t->write_config(gateway => 1, http => $HTTP, node => $NODE)->restart;

ok(WalrusTest::eventually(sub { !grep { !$t->holds(3, $_) } @ids }, 20),
   'node 3, back, holds its slivers of every blob, byte for byte');
ok(confirms(3, $ids[0]), 'and signs a confirmation for them');

my @rebuilt = $t->log_lines($mark, qr/node node3 rebuilt sliver pair/);
is(scalar @rebuilt, scalar @ids, 'one rebuild logged per blob');

# the bytes it downloaded are about those it rebuilt, not the blob's
my ($got) = $rebuilt[0] =~ /from (\d+) bytes of recovery symbols/;
my $pair = $P->can('shard_to_pair')->($P->can('unb64url')->($ids[0]), $n, 3);
my $size = -s $t->store(3) . "/$ids[0]/$pair.primary";
$size += -s $t->store(3) . "/$ids[0]/$pair.secondary";
ok($got && $got < 1.5 * $size && $got < length $blobs[0],
   "recovery downloaded $got bytes for a pair of $size bytes "
   . '(blob: ' . length($blobs[0]) . ')');

# its metrics count the pairs rebuilt and at least the bytes they took
my %m = map { /^(\S+) (\S+)$/ ? ($1 => $2) : () }
        split /\n/, $t->http->get("http://127.0.0.1:$mport/metrics")->{content};
my $took = 0;
$took += $_ for map { /from (\d+) bytes of recovery symbols/ } @rebuilt;
is($m{'walrus_node_healed_pairs_total{node="node3"}'}, scalar @rebuilt,
   'node 3 counts the pairs it rebuilt');
ok($m{'walrus_node_heal_downloaded_bytes_total{node="node3"}'} >= $took,
   "... and the recovery bytes it downloaded (at least $took)");
is($m{'walrus_node_healed_pairs_total{node="node0"}'}, 0,
   'node 0 rebuilt none');

# the keeper keeps a cursor per peer in keeper.state, so that a restart
# goes on where it stopped: each at the end of that peer's record
sub cursors_at_end {
    my ($i) = @_;
    my $state = WalrusTest::read_file($t->store($i) . '/keeper.state') // '';
    return 0 unless $state =~ /^walrus-keeper 1\n/;
    for my $j (grep { $_ != $i } 0 .. $n - 1) {
        my $end = -s $t->store($j) . '/certified.log';
        return 0 unless $state =~ /^peer node$j [0-9a-f]+ $end$/m;
    }
    return 1;
}
ok(WalrusTest::eventually(sub { cursors_at_end(3) }, 20),
   'node 3 keeps its cursor at the end of each peer\'s record')
    or diag(WalrusTest::read_file($t->store(3) . '/keeper.state'));

# --- a store wiped while the node runs ------------------------------------------

$mark = $t->log_mark;
WalrusTest::wipe($t->store(2));
ok(!-e $t->store(2) . "/certified.log", 'store 2 wiped, record and all');

ok(WalrusTest::eventually(sub { !grep { !$t->holds(2, $_) } @ids }, 20),
   'node 2 gets back every blob: its record from peers, then its slivers');
like($t->log_since($mark), qr/learned \d+ certified blobs from peer/,
     'it learned the blobs from its peers');
ok(-s $t->store(2) . "/certified.log", 'and keeps its own record again');

# --- restarted on an empty store ---------------------------------------------------

$t->stop;
WalrusTest::wipe($t->store(5));
$t->run;
ok(WalrusTest::eventually(sub { !grep { !$t->holds(5, $_) } @ids }, 20),
   'a node restarted on an empty store gets everything back');

# --- a byte rots: the scrubber finds it ------------------------------------------

# the file's times stay as they were, verification stamp included: only
# reading the bytes again can tell
$mark = $t->log_mark;
my $k4 = $P->can('shard_to_pair')->($P->can('unb64url')->($ids[0]), $n, 4);
my $rot = $t->store(4) . "/$ids[0]/$k4.primary";
system("touch -r $rot $dir/times") == 0 or die 'touch';
open my $fh, '+<:raw', $rot or die "$rot: $!";
seek $fh, 100, 0;
read $fh, my $byte, 1;
seek $fh, 100, 0;
print $fh chr(ord($byte) ^ 0x20);
close $fh;
system("touch -r $dir/times $rot") == 0 or die 'touch';

ok(WalrusTest::eventually(sub { -e "$rot.bad" && $t->holds(4, $ids[0]) }, 20),
   'the scrubber sets the rotten sliver aside and the keeper rebuilds it');
like($t->log_since($mark),
     qr/node node4: \S+\/$k4\.primary does not verify against the metadata/,
     'the rotten file is named in the log');

# --- what a node shows of its keeper ----------------------------------------------

sub keeper {
    my $health = eval { JSON::PP->new->decode(
        $t->node_request($_[0], 'GET', '/v1/health')->{content}) } // {};
    return $health->{success}{data}{keeper} // {};
}

# the figures are those of the keeper's last round and whole pass
my $keeper = {};
ok(WalrusTest::eventually(sub {
       $keeper = keeper(4);
       ($keeper->{blobs}{known} // -1) == @ids
           && $keeper->{blobs}{pending} == 0
           && $keeper->{blobs}{held} == @ids
           && $keeper->{scrub}{setAside} >= 1
           && $keeper->{healedPairs} >= 1 && $keeper->{recoveryBytes} > 0 },
       20),
   'health: the blobs the node knows, all held, none pending; the file '
   . 'the scrubber set aside, pairs healed and the bytes it took')
    or diag(JSON::PP->new->canonical->encode($keeper));
is(scalar(grep { $_->{status} == 200 && $_->{lastSync} > 0 }
          @{$keeper->{peers} // []}), $n - 1,
   'health: every peer synced, with its status');

# --- the keeper's process killed -------------------------------------------------

$mark = $t->log_mark;
my ($worker) = $t->worker_pids;
kill 'KILL', $worker;
WalrusTest::wipe($t->store(6) . "/$ids[0]");
ok(WalrusTest::eventually(sub { $t->holds(6, $ids[0]) }, 20),
   'after a kill -9 of the worker the respawned one heals');
like($t->log_since($mark), qr/node node6: this process keeps the store/,
     'the new worker took the store over');

# the harness fails on a worker that exited on a signal: that was ours
my $log = WalrusTest::read_file($t->error_log);
$log =~ s/^.*exited on signal 9.*\n//mg;
WalrusTest::write_file($t->error_log, $log);

# --- churn: one node at a time wiped, through all and again ---------------------

my $dead = 0;
for my $round (1 .. 2) {
    for my $i (0 .. $n - 1) {
        WalrusTest::wipe($t->store($i));
        $dead++ unless !grep { !readable($ids[$_], $blobs[$_]) } 0 .. $#ids;
        ok(WalrusTest::eventually(sub { !grep { !$t->holds($i, $_) } @ids },
                                  20),
           "churn $round: node $i wiped and healed");
    }
}
is($dead, 0, 'every blob stayed readable through the churn');

# --- two workers: one keeps each store, both show its figures ----------------

$mark = $t->log_mark;
$t->write_config(gateway => 1, http => $HTTP, node => $NODE, workers => 2)
  ->restart;
WalrusTest::wipe($t->store(1) . "/$ids[1]");
ok(WalrusTest::eventually(sub { $t->holds(1, $ids[1]) }, 20),
   'with two workers the store is healed');

my %keeps;
WalrusTest::eventually(sub {
    %keeps = ();
    $keeps{$_}++
        for $t->log_since($mark) =~ /node (node\d): this process keeps/g;
    keys %keeps == $n }, 10);
is(join(',', map { $keeps{"node$_"} // 0 } 0 .. $n - 1), join(',', (1) x $n),
   'each store is kept by one process');

# new connections land on either worker: each answers with the figures
my $shown = grep {
    my $r = HTTP::Tiny->new(keep_alive => 0)
        ->get($t->node_url(1) . '/v1/health');
    $r->{status} == 200 && $r->{content} =~ /"keeper":\{"process":\d+/
} 1 .. 20;
is($shown, 20, 'every worker shows the keeper of the store');

$t->stop;
$t->check_logs;

done_testing;
