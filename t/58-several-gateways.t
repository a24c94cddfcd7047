# Two gateways sharing one Redis behind conf.d/load-balancer.conf as
# shipped (hash of the blob ID, consistent; passive health; reads
# retried on the other gateway, uploads only when the first gateway
# could not be connected to).  Both serve; a blob uploaded through one
# is read through the other without asking the nodes for its metadata
# (Redis is shared); while readers read through the balancer, kill -9
# of one gateway (master and worker, as a crashed host) fails at most
# the reads it was sending (cut short); after it, every read and every
# upload through the balancer succeeds, an upload that gw1 refuses
# included (the recipe's fail_timeout shortened to 1 s, so that gw1 is
# tried again).
#
# The configuration: each gateway in an nginx of its own (the harness's
# start_gateway with redis => 1: the default gateway locations and
# walrus_redis on the test's Redis), and in the nodes' nginx (the
# harness's frame, t/lib/WalrusTest.pm):
#
#     http {
#         <conf.d/load-balancer.conf>   # listen 127.0.0.1:<port>,
#                                       # the two gateways' addresses,
#                                       # fail_timeout=1s
#     }
#     server { location / { walrus_node; ... } }  # nodes 0..6

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(sleep);
use HTTP::Tiny;
use POSIX ();
use WalrusTest;

my $S = 65536;
my $t = WalrusTest->new(n => 7, segment_size => $S);
my $dir = $t->dir;
mkdir "$dir/tmp";                     # the gateways' temp paths are there
$t->start_redis;
my %url = map { $_ => $t->start_gateway($_, $t->committee, redis => 1) }
          qw(gw1 gw2);
my %port = map { $_ => ($url{$_} =~ /:(\d+)$/)[0] } keys %url;
my $port = WalrusTest::free_port();
my $LB = "http://127.0.0.1:$port";

$t->write_config(http => $t->recipe('load-balancer.conf',
    'listen 80;' => "listen 127.0.0.1:$port;",
    'server 10.0.0.20:8080' => "server 127.0.0.1:$port{gw1}",
    'server 10.0.0.21:8080' => "server 127.0.0.1:$port{gw2}",
    # gw1 is tried again sooner once it failed (below)
    'fail_timeout=10s' => 'fail_timeout=1s'))->run;
ok(eventually(sub { $t->request('GET', "$LB/v1/health")->{status} == 200 },
              10), 'the balancer answers');

# requests for blobs in gateway $name's access log
sub served_by {
    my ($name) = @_;
    my $log = WalrusTest::read_file("$dir/$name/logs/access.log") // '';
    return scalar grep { m{^(GET|PUT) /v1/blobs} } split /\n/, $log;
}

sub get_at {
    my ($url, $id) = @_;
    return $t->request('GET', "$url/v1/blobs/$id");
}

sub put {
    my ($url, $blob) = @_;
    my $res = $t->request('PUT', "$url/v1/blobs", $blob);
    return $res->{status} == 200 ? $t->cli_blob_id($blob) : undef;
}

# --- both serve --------------------------------------------------------------

my (@blobs, @ids);
for my $k (0 .. 15) {
    push @blobs, blob_of(3000 + 997 * $k, $k);
    push @ids, put($LB, $blobs[-1]);
}
is(scalar(grep { defined } @ids), 16, '16 uploads through the balancer');
my $bad = grep { (get_at($LB, $ids[$_])->{content} // '')
                 ne $blobs[$_] } 0 .. 15;
is($bad, 0, '... each read back through it');
ok(eventually(sub { served_by('gw1') > 0 && served_by('gw2') > 0 }),
   sprintf('both gateways served (%d and %d requests)', served_by('gw1'),
           served_by('gw2')));

# the hash: one blob's reads go to one gateway
my %before = map { $_ => served_by($_) } qw(gw1 gw2);
get_at($LB, $ids[0]) for 1 .. 6;
sleep 0.3;
my @moved = grep { served_by($_) != $before{$_} } qw(gw1 gw2);
is(scalar @moved, 1, "six reads of one blob: all to one gateway (@moved)");

# --- Redis is shared ---------------------------------------------------------

my $blob = blob_of(2 * $S + 5, 99);
my $id = put($url{gw1}, $blob);
ok($id, 'a blob uploaded through gw1');
ok(eventually(sub { $t->redis('EXISTS', "walrus:m:$id")
                    && $t->redis('EXISTS', "walrus:c:$id") }),
   '... its metadata and certificate in Redis');
my $gets = $t->metadata_gets;
blob_is(get_at($url{gw2}, $id), $blob, '... read through gw2');
is($t->metadata_gets, $gets, '... which asked no node for its metadata');

# --- kill -9 of one gateway --------------------------------------------------

# two readers go on reading through the balancer while gw1 is killed:
# each writes a line per read to DIR/reader<k> until DIR/stop appears
sub reader {
    my ($k) = @_;
    my $pid = fork // die "fork: $!";
    return $pid if $pid;
    my $http = HTTP::Tiny->new(timeout => 30, keep_alive => 0);
    open my $out, '>', "$dir/reader$k" or POSIX::_exit(1);
    $out->autoflush(1);
    for (my $i = $k; !-e "$dir/stop"; $i++) {
        my $res = $http->get("$LB/v1/blobs/$ids[$i % 16]");
        my $len = length($res->{content} // '');
        print $out $res->{status} == 200 && $res->{content} eq $blobs[$i % 16]
            ? "ok\n" : "failed $res->{status} $len of "
                       . length($blobs[$i % 16]) . "\n";
    }
    # not exit: the harness's destructor would stop the test's servers
    POSIX::_exit(0);
}

my @readers = map { reader($_) } 1, 2;
sleep 1;
$t->kill_gateway('gw1');
ok(!$t->request('GET', "$url{gw1}/v1/health")->{success}, 'gw1 killed');
sleep 1.5;
WalrusTest::write_file("$dir/stop", '');
waitpid $_, 0 for @readers;
my @results = map { split /\n/, WalrusTest::read_file("$dir/reader$_") // '' }
              1, 2;
my @cut = grep { /^failed/ } @results;
ok(@results - @cut > 20, sprintf('two readers during the kill: %d reads',
                                 scalar @results));
# a read whose header gw1 had sent when it died is cut short: the only
# kind of failure there may be, and one per reader at most
ok(@cut <= 2 && !(grep { !/^failed (200|599) / } @cut),
   sprintf('... %d failed, each a read in flight cut short', scalar @cut))
    or diag(join "\n", @cut);

my @failed;
for my $round (1 .. 2) {
    for my $k (0 .. 15) {
        my $res = get_at($LB, $ids[$k]);
        push @failed, "$ids[$k]: $res->{status}"
            unless $res->{status} == 200 && $res->{content} eq $blobs[$k];
    }
}
is(scalar @failed, 0, 'then 32 reads through the balancer: none failed')
    or diag(join "\n", @failed);

my $uploads = 0;
for my $k (0 .. 7) {
    my $b = blob_of(5000 + $k, 200 + $k);
    my $new = put($LB, $b) or next;
    $uploads++
        if (get_at($LB, $new)->{content} // '') eq $b;
}
is($uploads, 8, '8 uploads through the balancer, each read back');

# an upload that the balancer sends to gw1 first, once gw1's
# fail_timeout has passed: refused before any byte of its body left, so
# it goes to gw2.  The key of an upload is random: a try every 1.2 s
# until one of them went to gw1 first
my ($puts, $refused) = (0, 0);
for my $k (0 .. 19) {
    sleep 1.2;
    my $mark = $t->log_mark;
    my $b = blob_of(7000 + $k, 300 + $k);
    $puts++ if put($LB, $b);
    last if $refused = grep { /\(111: Connection refused\).*"PUT \/v1\/blobs /
                              && /:$port{gw1}\// }
                       split /\n/, $t->log_since($mark);
}
ok($refused, 'an upload refused by gw1 ...');
is($puts, $refused ? $puts : -1, "... and all $puts uploads succeeded");

my @lines = grep { /upstream: "http:\/\/127\.0\.0\.1:$port{gw1}\// }
            split /\n/, WalrusTest::read_file($t->error_log) // '';
ok((grep { /failed \((104|111): / } @lines),
   'the balancer saw gw1 fail (and went on)') or diag(join "\n", @lines);

$t->stop_gateway('gw2');
$t->stop;
$t->stop_redis;

done_testing();
