# Shard migration (docs/protocol.md 18.6): in a later epoch a shard moves
# to another node, which takes the shard's sliver pairs from the node
# that held it (its old owner), checking every slice against the
# metadata, and rebuilds them from recovery symbols of the others when the
# old owner is gone or lies.  Seven nodes store blobs in epoch 1; epoch 2
# moves shard 3 from node 3 to node 7 (node 3 stays, with no shards, and
# serves what it held) and shard 5 from node 5 to node 8 while node 5 is
# down; epoch 3 moves shard 6 from node 6, behind a relay that flips a
# byte of every sliver it sends, to node 9.  Every new owner ends with
# its pairs byte for byte; the gateway reads every blob at every step and
# stores new ones with the new committee.
#
# The configuration (the harness's frame around it, t/lib/WalrusTest.pm):
#
#     http {
#         walrus_committee DIR/committee;         # 1.json, 2.json, 3.json
#         walrus_node_keeper_interval 300ms;
#
#         server {                                # the gateway
#             location /v1/ {
#                 walrus_gateway;
#                 walrus_gateway_key DIR/keys/gateway.key;
#                 walrus_gateway_temp_path DIR/tmp/walrus;
#             }
#         }
#         server {                                # node i, 0..9 (7..9 from
#             location / {                        # the epoch they join)
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
use Time::HiRes qw(sleep);
use WalrusTest;

my $S = 4096;
my $t = WalrusTest->new(n => 7, segment_size => $S, spares => 3);
my ($n, $dir) = ($t->n, $t->dir);
my $hist = "$dir/committee";
my $json = JSON::PP->new;
my $P = 'WalrusTest::Proto';

# the history: epoch 1 is the harness's committee; key files are named
# relative to the directory, so keys/ is there too
mkdir $hist or die "mkdir: $!";
symlink '../keys', "$hist/keys" or die "symlink: $!";
my $one = $json->decode(WalrusTest::read_file($t->committee));
WalrusTest::write_file("$hist/1.json", $json->encode($one));

# epoch $e: the previous epoch's committee with shards moved ($to{shard}
# = new node); a node whose shards all left stays listed with none
sub epoch_file {
    my ($e, %to) = @_;
    my $c = $json->decode(WalrusTest::read_file("$hist/" . ($e - 1)
                                                . '.json'));
    $c->{epoch} = $e;
    for my $shard (sort { $a <=> $b } keys %to) {
        my $new = $to{$shard};
        $_->{shards} = [ grep { $_ != $shard } @{$_->{shards}} ]
            for @{$c->{nodes}};
        my ($node) = grep { $_->{name} eq "node$new" } @{$c->{nodes}};
        if (!$node) {
            $node = { name => "node$new", url => $t->node_url($new),
                      shards => [], public_key_file => "keys/node$new.pub" };
            push @{$c->{nodes}}, $node;
        }
        push @{$node->{shards}}, $shard + 0;
    }
    WalrusTest::write_file("$hist/$e.json", $json->encode($c));
}

my $HTTP = <<'EOF';
    walrus_node_keeper_interval 300ms;
EOF

# the relay in front of node 6: honest, or flipping a byte of each
# sliver it sends (what the others answer, it passes on)
my ($moved, @real) = $t->moved_nodes(6);

sub mode { WalrusTest::write_file("$dir/mode", $_[0]) }

sub relay_connection {
    my ($c) = @_;
    while (my ($h, $body) = WalrusTest::read_message($c)) {
        my ($uri) = $h =~ m{^\S+ (\S+)};
        my $answer = WalrusTest::forward($real[6], $h, $body);
        return if $answer eq '';
        my ($head, $rest) = split /\r\n\r\n/, $answer, 2;
        if ((WalrusTest::read_file("$dir/mode") // '') eq 'lie'
            && $uri =~ m{/slivers/\d+/(primary|secondary)$}
            && $head =~ m{^HTTP/1\.1 20[06] } && length $rest)
        {
            substr($rest, length($rest) / 2, 1) ^= "\x01";
        }
        print $c "$head\r\n\r\n$rest";
    }
}

mode('honest');
my $relay = $t->start_relay(6, \&relay_connection);

# epoch 1: nodes 0..6 (node 6 behind its relay); spares down
# (node 6's server is in $moved, on a port of its own)
sub configure {
    my (%opt) = @_;
    $t->write_config(gateway => 1, http => $HTTP . $moved,
                     committee => $hist, %opt,
                     down => [ 6, @{$opt{down} // []} ]);
}

sub health {
    my ($i) = @_;
    my $res = $t->node_request($i, 'GET', '/v1/health');
    return eval { $json->decode($res->{content})->{success}{data} } || {};
}

sub gateway_epoch {
    my $d = eval { $json->decode($t->get('/v1/health')->{content}) } || {};
    return $d->{success}{data}{epoch} // -1;
}

sub reload_to {
    my ($epoch, %opt) = @_;
    my ($old) = $t->worker_pids;
    configure(%opt);
    kill 'HUP', $t->master_pid;
    return eventually(sub { gateway_epoch() == $epoch }, 10)
           && eventually(sub { !kill 0, $old }, 10);
}

sub put {
    my ($content) = @_;
    my $res = $t->request('PUT', $t->gateway_url . '/v1/blobs?epochs=10',
                          $content);
    return eval { $json->decode($res->{content}) } || {};
}

# every blob reads back whole through the gateway
sub all_read {
    my (%blobs) = @_;
    for my $id (sort keys %blobs) {
        my $res = $t->get_blob($id);
        return 0 unless $res->{status} == 200
                        && $res->{content} eq $blobs{$id};
    }
    return 1;
}

configure(down => [7, 8, 9])->run;
is(gateway_epoch(), 1, 'the network starts on epoch 1');

my %blob;
for my $k (1 .. 6) {
    my $b = WalrusTest::blob_of(3 * $S + 37 * $k, 20 + $k);
    my $d = put($b);
    my $id = $d->{newlyCreated}{blobObject}{blobId} // '';
    is($id, $t->encode($b), "blob $k is stored in epoch 1");
    $blob{$id} = $b;
}
my @ids = sort keys %blob;

ok(eventually(sub { !grep { my $id = $_; grep { !$t->holds($_, $id) }
                                             0 .. $n - 1 } @ids }, 20),
   'every node holds its pair of every blob');

# --- epoch 2: shard 3 to node 7 (node 3 up), shard 5 to node 8 (node 5 down)

epoch_file(2, 3 => 7, 5 => 8);
my $pair3 = $P->can('shard_to_pair')->($P->can('unb64url')->($ids[0]), $n,
                                       3);

# first with the new owners' keepers off, so that both shards stay in
# flight, and three nodes down: only nodes 4 and 6 hold their shards,
# fewer than the p = 3 slivers a segment needs, so a read needs the old
# owners of the shards in flight
my %keeper = (7 => 'off', 8 => 'off');
my $node_text = sub {
    my ($i) = @_;
    my $keeper = $keeper{$i} // 'on';
    (my $text = $WalrusTest::NODE_LOCATION)
        =~ s/^( *)\}\s*\z/$1    walrus_node_keeper $keeper;\n$1}\n/m
        or die 'no location end';
    return $text;
};
ok(reload_to(2, down => [0, 1, 2, 9], node => $node_text),
   'a reload brings epoch 2; nodes 7 and 8 do not migrate yet, nodes 0, 1 '
   . 'and 2 are down');
ok(!grep({ $t->holds(7, $_, 3) || $t->holds(8, $_, 5) } @ids),
   'nodes 7 and 8 hold none of their pairs');
ok(all_read(%blob), 'the gateway reads every blob');
my @old = grep { m{^GET /v1/blobs/\S+/slivers/\d+/primary 206 } }
          map { $t->node_access($_) } 3, 5;
ok(@old >= 1, '... from the old owners of the shards in flight, nodes 3 '
              . 'and 5 (' . @old . ' slivers)');
# (node 4 cannot say it is ready either: the peers it reads hold only 4
# shards, so it may not know every blob)
my $e4 = {};
ok(eventually(sub { $e4 = health(4)->{keeper}{epoch} // {};
                    ($e4->{epoch} // 0) == 2 }, 10)
   && !$e4->{complete},
   'node 4 does not see the change complete (ready: '
   . ($e4->{readyShards} // '?') . ' shards)');
ok(-s $t->store(3) . "/$ids[0]/$pair3.primary",
   'node 3, with no shards now, still holds what it held');

# node 5 goes (and with it the worker that served it) before the new
# owners start
ok(reload_to(2, down => [5, 9], node => $node_text), 'node 5 goes down');
%keeper = ();
my $mark = $t->log_mark;
ok(reload_to(2, down => [5, 9], node => $node_text),
   'the new owners migrate');

ok(eventually(sub { !grep { !$t->holds(7, $_, 3) } @ids }, 40),
   'node 7 holds the pair of shard 3 of every blob, byte for byte');
ok(eventually(sub { !grep { !$t->holds(8, $_, 5) } @ids }, 60),
   'node 8 holds the pair of shard 5 of every blob, byte for byte');

my @took = $t->log_lines($mark, qr/node node7 took sliver pair \d+ of blob \S+ from its old owner node3/);
is(scalar @took, scalar @ids, 'node 7 took each pair from node 3, its old owner');
my $h7 = {};
ok(eventually(sub { $h7 = health(7)->{keeper} // {};
                    ($h7->{migratedPairs} // 0) == @ids }, 10),
   '... its status counts them');
is($h7->{recoveryBytes}, 0, '... and no recovery symbols');
ok($h7->{migrationBytes} > 0, '... but their bytes '
                              . ($h7->{migrationBytes} // 0));

my @rebuilt = $t->log_lines($mark, qr/node node8 rebuilt sliver pair \d+ of blob/);
is(scalar @rebuilt, scalar @ids,
   'node 8 rebuilt each pair from recovery symbols (node 5 is gone)');
my $h8 = {};
ok(eventually(sub { $h8 = health(8)->{keeper} // {};
                    ($h8->{healedPairs} // 0) == @ids }, 10)
   && $h8->{recoveryBytes} > 0 && $h8->{migratedPairs} == 0,
   '... its status counts them and their bytes');

# readiness: node 7 signed it (in the round after the one that migrated);
# node 3, with no shards, never does
my $res;
ok(eventually(sub { $res = $t->node_request(7, 'GET', '/v1/epoch/ready');
                    $res->{status} == 200 }, 10),
   'node 7 says it is ready for epoch 2');
my $ready = $res->{content} // '';
is(length $ready, 84, '... in 84 bytes');
is(unpack('H*', substr($ready, 0, 20)),
   unpack('H*', 'walrus-ready:1' . pack('V v', 2, 7)),
   '... tag, epoch 2, its place 7 in the list of epoch 2');
WalrusTest::write_file("$dir/ready.msg", substr $ready, 0, 20);
WalrusTest::write_file("$dir/ready.sig", substr $ready, 20);
ok(WalrusTest::run_quiet('openssl', 'pkeyutl', '-verify', '-pubin',
                         '-inkey', "$dir/keys/node7.pub", '-rawin', '-in',
                         "$dir/ready.msg", '-sigfile', "$dir/ready.sig"),
   '... signed with its key (openssl pkeyutl -verify)');
WalrusTest::write_file("$dir/ready.bin", $ready);
my ($code, $out) = WalrusTest::capture({}, $dir, $WalrusTest::CTL, '-c',
                                       $hist, 'verify-ready',
                                       "$dir/ready.bin");
is($code, 0, 'walrusctl verify-ready accepts it');
like($out, qr/^readiness of node node7 \(index 7, 1 shards\) for epoch 2: valid$/m,
     '... naming the node and the epoch');
substr($ready, 30, 1) ^= "\x01";
WalrusTest::write_file("$dir/ready.bin", $ready);
($code, undef, my $err) = WalrusTest::capture({}, $dir, $WalrusTest::CTL,
                                              '-c', $hist, 'verify-ready',
                                              "$dir/ready.bin");
is($code, 1, '... and refuses it with a flipped bit');
like($err, qr/readiness of node 7 for epoch 2 does not verify/,
     '... saying so');
$res = $t->node_request(3, 'GET', '/v1/epoch/ready');
is($res->{status}, 404, 'node 3 (no shards) does not');
is(WalrusTest::reason($res), 'NOT_READY', '... NOT_READY');

ok(eventually(sub { (health(0)->{keeper}{epoch} // {})->{complete} }, 20),
   'node 0 sees the change to epoch 2 complete');
ok(eventually(sub { !-e $t->store(3) . "/$ids[0]/$pair3.primary" }, 20),
   'node 3 deleted the slivers of shard 3 once node 7 was ready');
ok(eventually(sub { (health(3)->{keeper}{epoch} // {})->{handedOver} }, 10),
   '... and says it handed over ('
   . ((health(3)->{keeper}{epoch} // {})->{droppedFiles} // '?')
   . ' files deleted)');
ok(!grep({ !$t->holds(7, $_, 3) } @ids)
   && !grep({ !$t->holds($_, $ids[0]) } 0, 1, 2, 4),
   'the new owner and the nodes that kept their shards hold them');
ok(all_read(%blob), 'the gateway reads every blob in epoch 2');

# a blob stored in epoch 2: certified by the committee of epoch 2
my $new = WalrusTest::blob_of(2 * $S + 5, 77);
my $d = put($new);
my $new_id = $d->{newlyCreated}{blobObject}{blobId} // '';
is($new_id, $t->encode($new), 'a blob is stored in epoch 2');
is($d->{newlyCreated}{certificate}{epoch}, 2, '... certified in epoch 2');
ok(eventually(sub { $t->holds(7, $new_id, 3) && $t->holds(8, $new_id, 5) },
              20), '... and its pairs are on nodes 7 and 8');
$blob{$new_id} = $new;
@ids = sort keys %blob;

# --- epoch 3: shard 6 to node 9 from node 6, which lies ----------------------

mode('lie');
epoch_file(3, 6 => 9);
$mark = $t->log_mark;
ok(reload_to(3, down => [5], node => $node_text),
   'a reload brings epoch 3');

ok(eventually(sub { !grep { !$t->holds(9, $_, 6) } @ids }, 60),
   'node 9 holds the pair of shard 6 of every blob, byte for byte');
my @lies = $t->log_lines($mark, qr/old owner node6 sent segment \d+ of pair \d+ of blob \S+ that does not verify/);
ok(@lies >= 1, 'node 9 caught node 6\'s flipped slices (' . @lies . ')');
my $h9 = {};
ok(eventually(sub { $h9 = health(9)->{keeper} // {};
                    ($h9->{healedPairs} // 0) == @ids }, 10)
   && $h9->{recoveryBytes} > 0,
   '... rebuilt them from recovery symbols (' . ($h9->{healedPairs} // 0)
   . ' pairs)');
is($h9->{migratedPairs}, 0, '... and took none from it whole');

ok(all_read(%blob), 'the gateway reads every blob in epoch 3');
my $pair6 = $P->can('shard_to_pair')->($P->can('unb64url')->($ids[0]), $n,
                                       6);
ok(eventually(sub { !-e $t->store(6) . "/$ids[0]/$pair6.primary" }, 20),
   'node 6 deleted the slivers of shard 6 once node 9 was ready');

kill 'KILL', $relay;
waitpid $relay, 0;
$t->stop;

done_testing();
