# docker/entrypoint.sh, the script the image runs, run here directly
# with its settings pointing at the test directory (no container engine
# needed): `init` writes the keys and a committee of 4 nodes (and keeps
# them when run again), `node` starts each node and `gateway` the gateway
# with Redis, each an nginx in the foreground as in its container.  A blob
# goes up and comes back through that gateway, its certificate verifies
# against the committee init wrote, and no error log has an alert.
# Missing keys and an unknown role are refused.  docker/compose.yaml is
# validated by docker-compose where it is installed.
#
# The configuration is the one the script writes (RUN/nginx.conf of each
# process); this test checks what it serves, not its text.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(sleep);
use JSON::PP;
use IO::Socket::INET;
use WalrusTest;

my $ROOT = $WalrusTest::ROOT;
my $SCRIPT = "$ROOT/docker/entrypoint.sh";
my $t = WalrusTest->new(n => 4);     # for its directory, ports and Redis
my $dir = "${\$t->dir}/docker";
mkdir $dir;
my $n = 4;
my @ports = map { WalrusTest::free_port() } 0 .. $n;
my $gw_port = pop @ports;
my $conf = "$dir/conf";

my %base = (WALRUS_ROOT => $ROOT, WALRUS_CONF => $conf,
            WALRUS_WORKERS => 1);

# runs the script with %env added to the environment: (exit code, output)
sub script {
    my ($role, %env) = @_;
    local %ENV = (%ENV, %base, %env);
    my $out = `bash $SCRIPT $role 2>&1`;
    return ($? >> 8, $out);
}

# starts the script in the background (nginx in the foreground, as in
# a container): its pid, which is nginx's master once the script execs
my @pids;
sub start {
    my ($role, %env) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        %ENV = (%ENV, %base, %env);
        open STDOUT, '>', "$dir/$role.$$.out";
        open STDERR, '>&', \*STDOUT;
        exec 'bash', $SCRIPT, $role or exit 127;
    }
    push @pids, $pid;
    return $pid;
}

sub listening {
    my ($port) = @_;
    return eventually(sub {
        IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port)
    }, 10);
}

# --- init --------------------------------------------------------------------

my $urls = join ' ', map { "http://127.0.0.1:$_" } @ports;
my ($rc, $out) = script('init', WALRUS_NODE_URLS => $urls,
                        WALRUS_SEGMENT_SIZE => 65536);
is($rc, 0, 'init: exit 0') or diag($out);
my $c = eval { decode_json(WalrusTest::read_file("$conf/committee.json")) }
        || {};
is(scalar @{$c->{nodes} // []}, $n, "... a committee of $n nodes");
is($c->{segment_size}, 65536, '... with the segment size asked for');
is_deeply([ map { $_->{url} } @{$c->{nodes}} ], [ split ' ', $urls ],
          '... at the URLs given');
ok(-f "$conf/keys/node$_.key", "... the key of node$_") for 0 .. $n - 1;
ok(-f "$conf/keys/gateway.key", '... and the gateway\'s');
is((stat "$conf/keys/node0.key")[2] & 0777, 0600, '... private (0600)');
my $before = WalrusTest::read_file("$conf/keys/node0.key");
($rc, $out) = script('init', WALRUS_NODE_URLS => $urls);
like($out, qr/exists; kept/, 'init again: the committee is kept');
is(WalrusTest::read_file("$conf/keys/node0.key"), $before,
   '... and the keys');

# --- refusals ----------------------------------------------------------------

($rc, $out) = script('node', WALRUS_NODE_NAME => 'node9',
                     WALRUS_RUN => "$dir/run-x");
is($rc, 1, 'a node without a key: exit 1');
like($out, qr{no key \S+/node9\.key}, '... saying so');
($rc, $out) = script('nothing');
is($rc, 2, 'an unknown role: exit 2');
like($out, qr/usage: .* init\|node\|gateway/, '... with the usage');

# --- the network -------------------------------------------------------------

$t->start_redis;
for my $i (0 .. $n - 1) {
    start('node', WALRUS_NODE_NAME => "node$i",
          WALRUS_LISTEN => "127.0.0.1:$ports[$i]",
          WALRUS_STORE => "$dir/store$i", WALRUS_RUN => "$dir/run-node$i",
          WALRUS_ERROR_LOG => "$dir/node$i.error.log",
          WALRUS_ACCESS_LOG => "$dir/node$i.access.log");
}
start('gateway', WALRUS_LISTEN => "127.0.0.1:$gw_port",
      WALRUS_REDIS => '127.0.0.1:' . $t->redis_port,
      WALRUS_RUN => "$dir/run-gw", WALRUS_ERROR_LOG => "$dir/gw.error.log",
      WALRUS_ACCESS_LOG => "$dir/gw.access.log");
ok(listening($_), "port $_ listens") for @ports, $gw_port;
like(WalrusTest::read_file("$dir/run-gw/nginx.conf") // '',
     qr/walrus_redis 127\.0\.0\.1:\d+;/, 'the gateway uses Redis');

my $G = "http://127.0.0.1:$gw_port";
my $blob = blob_of(200_000, 5);
my $res = $t->request('PUT', "$G/v1/blobs", $blob);
is($res->{status}, 200, 'PUT through the gateway: 200');
my $d = eval { decode_json($res->{content}) } || {};
my $id = $d->{newlyCreated}{blobObject}{blobId} // '';
my (undef, $cid) = WalrusTest::capture({}, $dir, $WalrusTest::CTL, '-c',
                                      "$conf/committee.json", 'blob-id',
                                      write_tmp($blob));
chomp $cid;
is($id, $cid, '... the blob ID walrusctl computes with the committee');
blob_is($t->request('GET', "$G/v1/blobs/$id"), $blob, 'GET: the blob');
$res = $t->request('GET', "$G/v1/blobs/$id", undef,
                   { Range => 'bytes=70000-70099' });
blob_is($res, substr($blob, 70000, 100), 'a range', status => 206);
ok(eventually(sub { $t->redis('EXISTS', "walrus:m:$id") }),
   'the metadata went to Redis');

$res = $t->request('GET',
                   "http://127.0.0.1:$ports[0]/v1/blobs/$id/certificate");
is($res->{status}, 200, 'node0 holds the certificate');
WalrusTest::write_file("$dir/cert", $res->{content});
my ($vrc, $vout) = WalrusTest::capture({}, $dir, $WalrusTest::CTL, '-c',
                                       "$conf/committee.json", 'verify-cert',
                                       '--blob-id', $id, "$dir/cert");
is($vrc, 0, '... which verifies against the committee init wrote')
    or diag($vout);

# --- stop --------------------------------------------------------------------

for my $pid (@pids) {
    kill 'QUIT', $pid;
    waitpid $pid, 0;
    is($?, 0, "nginx $pid stopped cleanly");
}
for my $log (map { "$dir/node$_.error.log" } 0 .. $n - 1) {
    my @bad = grep { /\[(alert|crit|emerg)\]|exited on signal/ }
              split /\n/, WalrusTest::read_file($log) // '';
    ok(!@bad, "no alerts in " . ($log =~ s{.*/}{}r)) or diag(join "\n", @bad);
}
my @bad = grep { /\[(alert|crit|emerg)\]|exited on signal/ }
          split /\n/, WalrusTest::read_file("$dir/gw.error.log") // '';
ok(!@bad, 'no alerts in the gateway\'s error log') or diag(join "\n", @bad);
$t->stop_redis;

# --- the compose file --------------------------------------------------------

# docker-compose (Debian's package, not installed by install-deps.sh)
# validates the file without a container engine
SKIP: {
    skip 'docker-compose is not installed', 2
        unless system('command -v docker-compose > /dev/null 2>&1') == 0;
    my $out = `docker-compose -f $ROOT/docker/compose.yaml config 2>&1`;
    is($?, 0, 'docker-compose config accepts docker/compose.yaml')
        or diag($out);
    my @nodes = $out =~ /^  (node\d+):$/mg;
    is(scalar @nodes, 7, '... with 7 node services');
}

sub write_tmp {
    my ($bytes) = @_;
    WalrusTest::write_file("$dir/blob", $bytes);
    return "$dir/blob";
}

done_testing();
