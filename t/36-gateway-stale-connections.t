# A node may close a kept-alive connection just as the gateway sends a
# request on it (its keepalive_timeout, a reload).  The gateway's node
# location sends such a request again on a new connection
# (proxy_next_upstream error), so reads and uploads do not fail for it.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use IO::Socket::INET;
use POSIX ();
use WalrusTest;

my $t = WalrusTest->new(n => 7, segment_size => 65536);
my $dir = $t->dir;
my $n = $t->n;

# every node listens on a port of its own; on the node's port a relay
# passes the first request of each connection on and closes the
# connection unanswered when a second request arrives on it
my (@real, @relays);
my $nodes = '';
for my $i (0 .. $n - 1) {
    $real[$i] = WalrusTest::free_port();
    my $server = $t->node_server($i);
    my $port = $t->node_port($i);
    $server =~ s/listen 127\.0\.0\.1:$port;/listen 127.0.0.1:$real[$i];/
        or die 'cannot move the node';
    $nodes .= $server;
}

sub relay_connection {
    my ($c, $i, $log) = @_;
    my $served = 0;
    while (my ($h, $body) = WalrusTest::read_message($c)) {
        if ($served++) {
            print $log "closed\n";
            return;
        }
        $h =~ s/^Connection:[^\r]*\r\n//mig;
        my $u = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $real[$i]) or return;
        print $u "$h\r\nConnection: close\r\n\r\n$body";
        my $answer = do { local $/; <$u> } // '';
        $answer =~ s/^Connection: close\r$/Connection: keep-alive\r/mi;
        print $c $answer;
        print $log "relayed\n";
    }
}

sub start_relay {
    my ($i) = @_;
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                  LocalPort => $t->node_port($i),
                                  Listen => 64, ReuseAddr => 1)
        or die "relay $i: $!";
    my $pid = fork // die "fork: $!";
    if ($pid) {
        close $l;
        return $pid;
    }
    $SIG{CHLD} = 'IGNORE';
    while (my $c = $l->accept) {
        my $kid = fork // die "fork: $!";
        if ($kid == 0) {
            open my $log, '>>', "$dir/logs/relay$i.log" or die;
            $log->autoflush(1);
            $c->autoflush(1);
            relay_connection($c, $i, $log);
            POSIX::_exit(0);
        }
        close $c;
    }
    POSIX::_exit(0);
}

sub relay_log {
    my ($what) = @_;
    my $count = 0;
    for my $i (0 .. $n - 1) {
        my $log = WalrusTest::read_file("$dir/logs/relay$i.log") // '';
        $count += () = $log =~ /^$what$/mg;
    }
    return $count;
}

$t->write_config(gateway => 1, down => [ 0 .. $n - 1 ], http => $nodes);
@relays = map { start_relay($_) } 0 .. $n - 1;
$t->run;

my $blob = WalrusTest::pattern_blob(200000, 3);
my $id = $t->put_blob($blob);
ok($id, 'an upload through nodes that close kept-alive connections');
cmp_ok(relay_log('closed'), '>', 0,
       '... which closed some of them as a request came');

for my $k (1 .. 3) {
    my $r = $t->request('GET', $t->gateway_url . "/v1/blobs/" . ($id // ''));
    ok($r->{status} == 200 && $r->{content} eq $blob,
       "read $k: the whole blob");
}

my $log = WalrusTest::read_file($t->error_log) // '';
ok($log !~ /answered 502/,
   'no node request failed for a connection the node closed');

$t->stop;
kill 'TERM', @relays;
waitpid $_, 0 for @relays;

done_testing();
