# A gateway one epoch behind the nodes, and one ahead (docs/protocol.md
# 18.3, 18.6): reads and writes go on, or fail with a clear error, never
# with a wrong byte.  The nodes (and gateway A, in the same nginx) move
# from epoch 1 to epoch 2, in which shard 6 moves from node 6 to node 7;
# gateway B, an nginx of its own, stays on epoch 1: its uploads are
# confirmed and certified in epoch 1 by the nodes whose shards did not
# move, and every gateway reads them.  B cannot check an epoch-2
# certificate: it says so.  Then B runs a history with an epoch 3 that
# the nodes do not have yet: its uploads fail with a clear error, its
# reads work.
#
# The configuration (the harness's frame around it, t/lib/WalrusTest.pm):
#
#     http {                                      # nodes and gateway A
#         walrus_committee DIR/committee;         # 1.json, then 2.json
#         walrus_node_keeper_interval 300ms;
#         server { location /v1/ { walrus_gateway; ... } }
#         server { location / { walrus_node; walrus_node_name node<i>; ... } }
#     }
#
#     http {                                      # gateway B, DIR/b/
#         walrus_committee DIR/behind;            # 1.json; later 1..3
#         upstream walrus_node<i> { server 127.0.0.1:<node i>; }
#         server { location /v1/ { walrus_gateway; ... } }
#     }

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use File::Path qw(remove_tree);
use WalrusTest;

my $S = 4096;
my $t = WalrusTest->new(n => 7, segment_size => $S, spares => 1);
my ($n, $dir) = ($t->n, $t->dir);
my $json = JSON::PP->new->canonical;

# a history directory $name holding the epochs given
sub history {
    my ($name, %files) = @_;
    my $d = "$dir/$name";
    remove_tree($d);
    mkdir $d or die "mkdir: $!";
    symlink '../keys', "$d/keys" or die "symlink: $!";
    WalrusTest::write_file("$d/$_.json", $json->encode($files{$_}))
        for keys %files;
    return $d;
}

my $one = $json->decode(WalrusTest::read_file($t->committee));
my $two = $json->decode($json->encode($one));
$two->{epoch} = 2;
$two->{nodes}[6]{shards} = [];
push @{$two->{nodes}}, { name => 'node7', url => $t->node_url(7),
                         shards => [6], public_key_file => 'keys/node7.pub' };
my $three = $json->decode($json->encode($two));
$three->{epoch} = 3;

my $HTTP = <<'EOF';
    walrus_node_keeper_interval 300ms;
EOF

my $main = history('committee', 1 => $one);
$t->write_config(gateway => 1, http => $HTTP, committee => $main,
                 down => [7])->run;
my $B = $t->start_gateway('b', history('behind', 1 => $one));

sub put {
    my ($url, $content) = @_;
    my $res = $t->request('PUT', "$url/v1/blobs?epochs=5", $content);
    return ($res, eval { $json->decode($res->{content}) } || {});
}

sub reads {
    my ($url, $id, $want) = @_;
    my $res = $t->request('GET', "$url/v1/blobs/$id");
    return $res->{status} == 200 && $res->{content} eq $want;
}

my $A = $t->gateway_url;
my $x = WalrusTest::blob_of(2 * $S + 11, 3);
my (undef, $dx) = put($A, $x);
my $idx = $dx->{newlyCreated}{blobObject}{blobId} // '';
is($idx, $t->encode($x), 'a blob is stored in epoch 1');
ok(reads($B, $idx, $x), 'gateway B reads it');

# --- the nodes and A move to epoch 2; B stays on epoch 1 ----------------------

history('committee', 1 => $one, 2 => $two);
my ($old) = $t->worker_pids;
$t->write_config(gateway => 1, http => $HTTP, committee => $main);
kill 'HUP', $t->master_pid;
ok(eventually(sub { !kill 0, $old }, 20), 'the nodes move to epoch 2');

my $y = WalrusTest::blob_of(3 * $S + 5, 4);
my ($res, $dy) = put($B, $y);
my $idy = $dy->{newlyCreated}{blobObject}{blobId} // '';
is($res->{status}, 200, 'gateway B, one epoch behind, stores a blob')
    or diag($res->{content});
is($idy, $t->encode($y), '... with its ID');
is($dy->{newlyCreated}{certificate}{epoch}, 1,
   '... certified in epoch 1, its own, by the nodes of epoch 2');
ok(reads($B, $idy, $y) && reads($A, $idy, $y) && reads($B, $idx, $x),
   'both gateways read it, and B the older blob');
ok(eventually(sub { $t->holds(7, $idy, 6) }, 30),
   'node 7, new owner of shard 6, takes its pair of the blob');

# the confirmation of a chosen epoch, and its errors
my $res0 = $t->node_request(0, 'GET', "/v1/blobs/$idy/confirmation?epoch=1");
is($res0->{status}, 200, 'a node of epoch 2 confirms for epoch 1 when asked');
like($res0->{content}, qr/"epoch":1,/, '... naming epoch 1');
is(WalrusTest::reason($t->node_request(0, 'GET',
       "/v1/blobs/$idy/confirmation?epoch=x1")), 'INVALID_EPOCH',
   '?epoch=x1: 400 INVALID_EPOCH');
is(WalrusTest::reason($t->node_request(0, 'GET',
       "/v1/blobs/$idy/confirmation?epoch=9")), 'UNKNOWN_EPOCH',
   '?epoch=9, not in its history: 409 UNKNOWN_EPOCH');
is(WalrusTest::reason($t->node_request(7, 'GET',
       "/v1/blobs/$idy/confirmation?epoch=1")), 'NOT_IN_EPOCH',
   'node 7, which joined in epoch 2, for epoch 1: 409 NOT_IN_EPOCH');

my $z = WalrusTest::blob_of(2 * $S + 77, 5);
my (undef, $dz) = put($A, $z);
my $idz = $dz->{newlyCreated}{blobObject}{blobId} // '';
is($dz->{newlyCreated}{certificate}{epoch}, 2, 'gateway A stores a blob in '
                                               . 'epoch 2');
$res = $t->request('GET', "$B/v1/blobs/$idz");
is($res->{status}, 503, 'gateway B cannot check its certificate: 503');
is(WalrusTest::reason($res), 'UNKNOWN_EPOCH', '... UNKNOWN_EPOCH');
like($res->{content}, qr/certified in epoch 2, which this gateway's committee history \(epochs 1 to 1\) does not hold/,
     '... saying which epoch it lacks');
my $b_log = WalrusTest::read_file("$dir/b/logs/error.log") // '';
like($b_log, qr/certificate of blob \Q$idz\E of epoch 2, which the committee history \(epochs 1 to 1\) does not hold/,
     '... its log says why: reload it with epoch 2');

# --- B one epoch ahead of the nodes -------------------------------------------

$t->stop_gateway('b');
$B = $t->start_gateway('b', history('behind', 1 => $one, 2 => $two,
                                    3 => $three));
my $w = WalrusTest::blob_of($S + 1, 6);
($res) = put($B, $w);
is($res->{status}, 503, 'gateway B, one epoch ahead, cannot store a blob: '
                        . '503');
is(WalrusTest::reason($res), 'REGISTRATION_REFUSED', '... REGISTRATION_REFUSED');
my $idw = $t->encode($w);
my @sent = grep { m{^PUT /v1/blobs/\Q$idw\E/registration 400 } }
           $t->node_access(0);
is(scalar @sent, 4, '... after sending node 0 the registration again three '
                    . 'times (a node being reloaded answers so for a moment)');
like($res->{content}, qr/refused the registration of blob \S+ in epoch 3: they are on an earlier epoch than this gateway/,
     '... saying the nodes are behind');
ok(reads($B, $idx, $x) && reads($B, $idy, $y) && reads($B, $idz, $z),
   'it reads every blob, of epochs 1 and 2');

$t->stop_gateway('b');
$t->stop;

done_testing();
