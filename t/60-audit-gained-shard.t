# Audits across a committee change (docs/protocol.md 17.2): a node that
# gained a shard is challenged on the blobs certified before it gained
# it only once it said it is ready for the new epoch, so an honest node
# still taking the pairs from the old owner never fails a round for
# them.  Seven nodes store blobs in epoch 1; epoch 2 moves shard 3 from
# node 3 to node 4 (node 4 keeps shard 4, node 3 stays with none).
# First node 4's keeper is off: it does not migrate, never says it is
# ready, and no verifier may find it missing anything; then its keeper
# runs, it takes shard 3's pairs, says it is ready, and the verifiers
# challenge it on those blobs again: it is certified.
#
# The configuration (the harness's frame around it, t/lib/WalrusTest.pm):
#
#     http {
#         walrus_committee DIR/committee;         # 1.json, 2.json
#         walrus_node_keeper_interval 300ms;
#         walrus_node_audit_interval 2s;
#         log_format args '$request_uri';
#
#         server {                                # the gateway
#             location / {
#                 walrus_gateway;
#                 walrus_gateway_key DIR/keys/gateway.key;
#                 walrus_gateway_temp_path DIR/tmp/walrus;
#             }
#         }
#         server {                                # node i, 0..6
#             location / {
#                 walrus_node;
#                 walrus_node_name node<i>;
#                 walrus_node_key DIR/keys/node<i>.key;
#                 walrus_node_store DIR/store<i>;
#                 walrus_node_scrub_rate 1m;
#                 walrus_node_keeper off;         # node 4, first
#                 access_log DIR/logs/node4.args.log args;   # node 4
#             }
#         }
#     }

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use WalrusTest;

my $S = 4096;
my $t = WalrusTest->new(n => 7, segment_size => $S);
my ($n, $dir) = ($t->n, $t->dir);
my $hist = "$dir/committee";
my $json = JSON::PP->new;
my ($GAINER, $OLD, $SHARD) = (4, 3, 3);

mkdir $hist or die "mkdir: $!";
symlink '../keys', "$hist/keys" or die "symlink: $!";
my $one = $json->decode(WalrusTest::read_file($t->committee));
WalrusTest::write_file("$hist/1.json", $json->encode($one));

# node 4 logs its requests' query strings too: the blobs challenged
my $HTTP = <<'EOF';
    walrus_node_keeper_interval 300ms;
    walrus_node_audit_interval 2s;
    log_format args '$request_uri';
EOF
my $ARGS_LOG = "$dir/logs/node$GAINER.args.log";

my $keeper = 'on';
my $node_text = sub {
    my ($i) = @_;
    my $k = $i == $GAINER ? $keeper : 'on';
    my $log = $i == $GAINER ? "access_log $ARGS_LOG args;" : '';
    (my $text = $WalrusTest::NODE_LOCATION)
        =~ s/^( *)\}\s*\z/$1    walrus_node_keeper $k; $log\n$1}\n/m
        or die 'no location end';
    return $text;
};

sub configure {
    $t->write_config(gateway => 1, http => $HTTP, committee => $hist,
                     node => $node_text);
}

sub gateway_epoch {
    my $d = eval { $json->decode($t->get('/v1/health')->{content}) } || {};
    return $d->{success}{data}{epoch} // -1;
}

sub reload_to {
    my ($epoch) = @_;
    my ($old) = $t->worker_pids;
    configure();
    kill 'HUP', $t->master_pid;
    return WalrusTest::eventually(sub { gateway_epoch() == $epoch }, 10)
           && WalrusTest::eventually(sub { !kill 0, $old }, 10);
}

sub rounds_dir { $t->store($_[0]) . '/audit/rounds' }

# rounds in which verifier $v found node $x missing a blob
sub missing_rounds {
    my ($x) = @_;
    my @found;
    for my $v (grep { $_ != $x } 0 .. $n - 1) {
        push @found, map { m{/(\d+)/missing\.\d+$} ? "$v:$1" : () }
                     glob(rounds_dir($v) . "/*/missing.$x");
    }
    return @found;
}

# the lines of node 4's log of query strings from line $from on, and
# whether a line is an audit challenge naming a blob of epoch 1
my %epoch1;
sub args_lines {
    my ($from) = @_;
    my @lines = split /\n/, WalrusTest::read_file($ARGS_LOG) // '';
    return @lines[($from // 0) .. $#lines];
}
sub asks_about {
    my ($line) = @_;
    my ($blobs) = $line =~ m{^/v1/audit/rounds/\d+/answer\?blobs=(\S+)}
        or return 0;
    return scalar grep { $epoch1{$_} } split /,/, $blobs;
}

sub certified_rounds {
    my ($x) = @_;
    return map { m{/(\d+)/certificate$} ? $1 : () }
           glob(rounds_dir($x) . '/*/certificate');
}

# the newest round any node has a certificate of
sub newest_certified {
    my $max = 0;
    for my $i (0 .. $n - 1) {
        for (certified_rounds($i)) { $max = $_ if $_ > $max }
    }
    return $max;
}

configure()->run;

# blobs that node 4 signed: those it promised in epoch 1
my %blob;
for my $k (1 .. 12) {
    my $b = WalrusTest::blob_of(3 * $S + 41 * $k, 40 + $k);
    my $res = $t->request('PUT', $t->gateway_url . '/v1/blobs?epochs=20',
                          $b);
    my $d = eval { $json->decode($res->{content}) } || {};
    my $signers = $d->{newlyCreated}{certificate}{signers} or next;
    next unless grep { $_ eq "node$GAINER" } @$signers;
    $blob{$t->encode($b)} = $b;
    last if keys %blob == 4;
}
my @ids = sort keys %blob;
%epoch1 = map { $_ => 1 } @ids;
is(scalar @ids, 4, 'four blobs signed by node 4 are stored in epoch 1');
ok(WalrusTest::eventually(sub {
       !grep { my $id = $_; grep { !$t->holds($_, $id) } 0 .. $n - 1 }
             @ids }, 30),
   'every node holds its pair of every blob');

# --- epoch 2: shard 3 to node 4, whose keeper is off -------------------------

my $c = $json->decode(WalrusTest::read_file("$hist/1.json"));
$c->{epoch} = 2;
$_->{shards} = [ grep { $_ != $SHARD } @{$_->{shards}} ] for @{$c->{nodes}};
push @{ (grep { $_->{name} eq "node$GAINER" } @{$c->{nodes}})[0]{shards} },
     $SHARD;
WalrusTest::write_file("$hist/2.json", $json->encode($c));

$keeper = 'off';
ok(reload_to(2), 'a reload brings epoch 2; node 4 does not migrate');
# counted once the workers of epoch 1 exited: their rounds rightly ask
# node 4 about the blobs of epoch 1 until then
my $in_epoch1 = () = args_lines();

# several rounds in which node 4 is not ready
my $from = newest_certified();
ok(WalrusTest::eventually(sub { newest_certified() >= $from + 3 }, 60),
   'audit rounds go on in epoch 2 (' . newest_certified() . ')');
ok(!grep({ $t->holds($GAINER, $_, $SHARD) } @ids),
   'node 4 still lacks the pairs of shard 3');
is(join(' ', missing_rounds($GAINER)), '',
   'no verifier found node 4 missing a blob while it was not ready');
ok(scalar(grep { m{^/v1/audit/rounds/} } args_lines($in_epoch1)),
   'verifiers asked node 4 about the rounds of epoch 2');
is(scalar(grep { asks_about($_) } args_lines($in_epoch1)), 0,
   '... never about the blobs of epoch 1');
my $seen = () = args_lines();

# --- node 4's keeper runs: it migrates, says it is ready, is challenged --

$keeper = 'on';
ok(reload_to(2), 'node 4 runs its keeper');
ok(WalrusTest::eventually(sub {
       !grep { !$t->holds($GAINER, $_, $SHARD) } @ids }, 60),
   'node 4 takes the pairs of shard 3');
ok(WalrusTest::eventually(sub {
       $t->node_request($GAINER, 'GET', '/v1/epoch/ready')->{status} == 200
   }, 60), 'and says it is ready for epoch 2');

# a verifier now challenges node 4 on the blobs of epoch 1: its picked
# set is in the round's status; node 4 passes and is certified
my $ready_at = newest_certified();
ok(WalrusTest::eventually(sub {
       grep { $_ > $ready_at + 1 } certified_rounds($GAINER) }, 60),
   'node 4 is certified in a round after it said it is ready');
is(join(' ', missing_rounds($GAINER)), '',
   'and no verifier ever found it missing a blob');

ok(scalar(grep { asks_about($_) } args_lines($seen)),
   'verifiers asked node 4 about the blobs of epoch 1 once it was ready');

$t->stop;
done_testing();
