# Replacing 2 of 7 nodes under continuous load (docs/protocol.md 18.6):
# a client reads existing blobs and stores new ones without a pause while
# epoch 2 moves shards 5 and 6 from nodes 5 and 6 to new nodes 7 and 8,
# the new nodes take their pairs, the old ones hand over and are then
# stopped.  The reloads follow operations.md: the nodes first (the
# gateway, one epoch behind meanwhile, still stores and reads), then the
# gateway, an nginx of its own.  No request fails, no byte is wrong, and
# afterwards every blob, stored before or during the change, reads from
# the new committee.
#
# The configuration (the harness's frame around it, t/lib/WalrusTest.pm):
#
#     http {                                      # the gateway, DIR/gw/
#         walrus_committee DIR/gw-committee;      # 1.json, then 2.json
#         server { location / { walrus_gateway; ... } }
#     }
#
#     http {                                      # the nodes
#         walrus_committee DIR/committee;         # 1.json, then 2.json
#         walrus_node_keeper_interval 300ms;
#         server {                                # node i, 0..8 (7 and 8
#             location / {                        # from epoch 2)
#                 walrus_node;
#                 walrus_node_name node<i>;
#                 walrus_node_key DIR/keys/node<i>.key;
#                 walrus_node_store DIR/store<i>;
#                 walrus_node_scrub_rate 1m;
#             }
#         }
#     }

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use HTTP::Tiny;
use POSIX ();
use Time::HiRes qw(sleep time);
use WalrusTest;

my $S = 4096;
my $t = WalrusTest->new(n => 7, segment_size => $S, spares => 2);
my ($n, $dir) = ($t->n, $t->dir);
my $hist = "$dir/committee";
my $json = JSON::PP->new->canonical;

my $gw_hist = "$dir/gw-committee";
for my $d ($hist, $gw_hist) {
    mkdir $d or die "mkdir: $!";
    symlink '../keys', "$d/keys" or die "symlink: $!";
}
my $one = $json->decode(WalrusTest::read_file($t->committee));
WalrusTest::write_file("$_/1.json", $json->encode($one)) for $hist, $gw_hist;

# epoch 2: nodes 5 and 6 keep no shards, nodes 7 and 8 take theirs
my $two = $json->decode($json->encode($one));
$two->{epoch} = 2;
for my $old (5, 6) {
    $two->{nodes}[$old]{shards} = [];
    push @{$two->{nodes}}, { name => 'node' . ($old + 2),
                             url => $t->node_url($old + 2),
                             shards => [ $old ],
                             public_key_file => 'keys/node' . ($old + 2)
                                                . '.pub' };
}

my $HTTP = <<'EOF';
    walrus_node_keeper_interval 300ms;
EOF

sub configure {
    $t->write_config(http => $HTTP, committee => $hist, @_);
}

sub health {
    my ($i) = @_;
    my $res = $t->node_request($i, 'GET', '/v1/health');
    return eval { $json->decode($res->{content})->{success}{data} } || {};
}

my $G;

sub gateway_epoch {
    my $d = eval { $json->decode($t->request('GET', "$G/v1/health")
                                   ->{content}) } || {};
    return $d->{success}{data}{epoch} // -1;
}

sub reload {
    my (%opt) = @_;
    my ($old) = $t->worker_pids;
    configure(%opt);
    kill 'HUP', $t->master_pid;
    return eventually(sub { !kill 0, $old }, 20);
}

configure(down => [7, 8])->run;
$G = $t->start_gateway('gw', $gw_hist);

my %blob;
for my $k (1 .. 8) {
    my $b = WalrusTest::blob_of(2 * $S + 91 * $k, 40 + $k);
    my $res = $t->request('PUT', "$G/v1/blobs?epochs=10", $b);
    my $id = eval { $json->decode($res->{content})
                        ->{newlyCreated}{blobObject}{blobId} } // '';
    $blob{$id} = $b if $id ne '';
}
is(scalar keys %blob, 8, 'eight blobs are stored in epoch 1');

# --- the client: reads and writes until told to stop ------------------------

# each request's outcome is a line of $dir/load.log: "ok GET", "ok PUT
# <id> <seed>", or "FAIL <what>"
my $load = fork // die "fork: $!";
if ($load == 0) {
    my $http = HTTP::Tiny->new(timeout => 30, keep_alive => 0);
    my @ids = sort keys %blob;
    open my $log, '>>', "$dir/load.log" or die "load.log: $!";
    $log->autoflush(1);
    my $started = time;
    for (my $i = 0; !-e "$dir/stop" && $i < 5000 && time - $started < 240;
         $i++)
    {
        my $id = $ids[$i % @ids];
        my $res = $http->get("$G/v1/blobs/$id");
        if ($res->{status} == 200 && $res->{content} eq $blob{$id}) {
            print $log "ok GET\n";
        } else {
            print $log "FAIL GET $id: $res->{status} ("
                . length($res->{content} // '') . " bytes)\n";
        }
        next if $i % 4;

        my $seed = 1000 + $i;
        my $b = WalrusTest::blob_of($S + $i, $seed);
        $res = $http->request('PUT', "$G/v1/blobs?epochs=10",
                              { content => $b });
        my $d = eval { JSON::PP->new->decode($res->{content}) } || {};
        my $new = $d->{newlyCreated}{blobObject}{blobId};
        if ($res->{status} == 200 && defined $new) {
            print $log "ok PUT $new $seed $i\n";
        } else {
            print $log "FAIL PUT: $res->{status} "
                . substr($res->{content} // '', 0, 200) . "\n";
        }
    }
    POSIX::_exit(0);
}

sub outcomes {
    my @lines = split /\n/, WalrusTest::read_file("$dir/load.log") // '';
    return (scalar(grep { /^ok/ } @lines), grep { /^FAIL/ } @lines);
}

ok(eventually(sub { (outcomes())[0] >= 20 }, 30),
   'the client reads and writes');

# --- epoch 2 under load -------------------------------------------------------

WalrusTest::write_file("$hist/2.json", $json->encode($two));
my $mark = $t->log_mark;
ok(reload(down => []), 'the nodes reload onto epoch 2 (nodes 7 and 8 '
                       . 'start)');
is(gateway_epoch(), 1, '... while the gateway is still on epoch 1');
my $behind = (outcomes())[0];
ok(eventually(sub { (outcomes())[0] >= $behind + 8 }, 30),
   'the client goes on with the gateway one epoch behind');
WalrusTest::write_file("$gw_hist/2.json", $json->encode($two));
ok($t->reload_gateway('gw', $G, 2), 'then the gateway reloads onto epoch 2');

# (the keeper's figures are those of its last round: of epoch 2 once it
# ran one)
sub handed_over {
    my $e = health($_[0])->{keeper}{epoch} // {};
    return ($e->{epoch} // 0) == 2 && $e->{handedOver};
}
ok(eventually(sub { handed_over(5) && handed_over(6) }, 90),
   'nodes 5 and 6 hand over: nodes 7 and 8 are ready');
my @took = $t->log_lines($mark, qr/node node[78] took sliver pair/);
ok(@took >= 2 * keys %blob,
   'the new nodes took the pairs from the old ones (' . @took . ')');

# the old nodes stop; the client goes on a while
my $before = (outcomes())[0];
ok(reload(down => [5, 6]), 'nodes 5 and 6 are stopped');
ok(eventually(sub { (outcomes())[0] >= $before + 20 }, 60),
   'the client goes on reading and writing');

WalrusTest::write_file("$dir/stop", '');
waitpid $load, 0;

my ($done, @failed) = outcomes();
ok($done >= 40, "the client made $done requests");
is(scalar @failed, 0, 'none failed, no byte was wrong')
    or diag(join "\n", @failed[0 .. ($#failed < 9 ? $#failed : 9)]);

# every blob, from before and from during the change, reads from the new
# committee (nodes 0..4, 7, 8)
my @puts = map { [ (split / /)[2, 3, 4] ] }
           grep { /^ok PUT/ } split /\n/, WalrusTest::read_file("$dir/load.log");
$blob{$_->[0]} = WalrusTest::blob_of($S + $_->[2], $_->[1]) for @puts;
my @bad = grep { my $r = $t->request('GET', "$G/v1/blobs/$_");
                 $r->{status} != 200 || $r->{content} ne $blob{$_} }
          sort keys %blob;
is(scalar @bad, 0, 'all ' . keys(%blob) . ' blobs read with nodes 5 and 6 '
                   . 'gone');

$t->stop_gateway('gw');
$t->stop;

done_testing();
