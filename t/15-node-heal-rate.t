# The bounds of the keeper's heal: walrus_node_heal_rate (recovery bytes
# a second) makes a wiped node take at least its pair's bytes over the
# rate to heal; walrus_node_keeper_timeout stops a round that runs too
# long (it leaves no temporary file), and the next rounds go on.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use Time::HiRes qw(time sleep);
use WalrusTest;

my $S = 64 * 1024;
my $t = WalrusTest->new(n => 7, segment_size => $S);
my $n = $t->n;

# 200 KB/s: the pair of a 1.2 MB blob (about 640 KB at n = 7) takes more
# than 2 s beyond the bucket's one second of credit
my $RATE = 200 * 1024;
my $HTTP = <<"EOF";
    walrus_node_keeper_interval 300ms;
    walrus_node_heal_rate $RATE;
EOF

$t->write_config(gateway => 1, http => $HTTP)->run;

my $blob = WalrusTest::blob_of(1_200_000, 5);
my $id = $t->put_blob($blob);
is($id, $t->encode($blob), 'a 1.2 MB blob is stored');
ok(WalrusTest::eventually(sub { $t->holds(0, $id) }, 10),
   'node 0 holds its pair');

my $k = WalrusTest::Proto::shard_to_pair(WalrusTest::Proto::unb64url($id),
                                         $n, 0);
my $pair = (-s $t->store(0) . "/$id/$k.primary")
         + (-s $t->store(0) . "/$id/$k.secondary");

# the bucket refills while nothing is fetched: let it fill, then wipe
sleep 1.5;
my $start = time;
WalrusTest::wipe($t->store(0) . "/$id");
ok(WalrusTest::eventually(sub { $t->holds(0, $id) }, 40),
   'the wiped node heals under the rate limit');
my $took = time - $start;
my $floor = ($pair - $RATE) / $RATE;
ok($took >= 0.8 * $floor,
   sprintf('it took %.1f s for %d bytes: no faster than the rate allows '
           . '(%.1f s)', $took, $pair, $floor));

# --- walrus_node_keeper_timeout -------------------------------------------------

# 32 KB/s and rounds of at most 1 s: a pair of 640 KB cannot be rebuilt
# within a round, so each round is stopped
$HTTP = <<'EOF';
    walrus_node_keeper_interval 300ms;
    walrus_node_keeper_timeout 1s;
    walrus_node_heal_rate 32k;
EOF
$t->write_config(gateway => 1, http => $HTTP);
kill 'HUP', $t->master_pid;
sleep 1;

my $mark = $t->log_mark;
WalrusTest::wipe($t->store(0) . "/$id");
ok(WalrusTest::eventually(sub {
       $t->log_lines($mark, qr/took longer than walrus_node_keeper_timeout/)
           >= 2 }, 20),
   'rounds longer than walrus_node_keeper_timeout are stopped, '
   . 'round after round');

sub health {
    my $r = $t->node_request(0, 'GET', '/v1/health');
    return eval { JSON::PP->new->decode($r->{content})->{success}{data}
                  ->{keeper} } // {};
}

my $rounds = health()->{rounds} // 0;
sleep 2;
ok((health()->{rounds} // 0) > $rounds, 'and new rounds keep starting');

# no half-written file of the pair stays behind a stopped round: a round
# holds the pair's two temporary files at most, whatever came before
sub temporary_files {
    opendir(my $d, $t->store(0) . "/$id") or return 0;
    return scalar grep { /^\.tmp\./ } readdir $d;
}
my $most = 0;
for (1 .. 10) {
    my $c = temporary_files();
    $most = $c if $c > $most;
    sleep 0.3;
}
ok($most <= 2, "stopped rounds leave no temporary file ($most at most)");

# without the rate limit the pair fits in a round again
$t->write_config(gateway => 1, http => <<'EOF');
    walrus_node_keeper_interval 300ms;
    walrus_node_keeper_timeout 1s;
    walrus_node_heal_rate 0;
EOF
kill 'HUP', $t->master_pid;
ok(WalrusTest::eventually(sub { $t->holds(0, $id) }, 20),
   'with the limit lifted, the node heals within a round');
is($t->get_blob($id)->{content}, $blob, 'the blob reads back whole');

$t->stop;
$t->check_logs;

done_testing;
