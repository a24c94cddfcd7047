# A node may close a kept-alive connection just as the gateway sends a
# request on it (its keepalive_timeout, a reload).  The gateway's node
# location sends such a request again on a new connection
# (proxy_next_upstream error), so reads and uploads do not fail for it.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use WalrusTest;

my $t = WalrusTest->new(n => 7, segment_size => 65536);
my $dir = $t->dir;
my $n = $t->n;

# every node listens on a port of its own; on the node's port a relay
# passes the first request of each connection on and closes the
# connection unanswered when a second request arrives on it
my ($nodes, @real) = $t->moved_nodes;

sub relay_connection {
    my ($c, $i, $log) = @_;
    my $served = 0;
    while (my ($h, $body) = WalrusTest::read_message($c)) {
        if ($served++) {
            print $log "closed\n";
            return;
        }
        my $answer = WalrusTest::forward($real[$i], $h, $body);
        return if $answer eq '';
        print $c $answer;
        print $log "relayed\n";
    }
}

sub start_relay {
    my ($i) = @_;
    return $t->start_relay($i, sub {
        open my $log, '>>', "$dir/logs/relay$i.log" or die;
        $log->autoflush(1);
        relay_connection($_[0], $i, $log);
    });
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

# the harness's node servers, moved to ports of their own, stand behind
# the relays on the committee's ports
$t->write_config(down => [ 0 .. $n - 1 ], http => $nodes, gateway => <<'EOF');
        location /v1/ {
            walrus_gateway;
            walrus_gateway_key %%DIR%%/keys/gateway.key;
            walrus_gateway_temp_path %%DIR%%/tmp/walrus;
        }
EOF
my @relays = map { start_relay($_) } 0 .. $n - 1;
$t->run;
my $mark = $t->log_mark;

my $blob = WalrusTest::pattern_blob(200000, 3);
my $id = $t->put_blob($blob);
ok($id, 'an upload through nodes that close kept-alive connections');
cmp_ok(relay_log('closed'), '>', 0,
       '... which closed some of them as a request came');

for my $k (1 .. 3) {
    blob_is($t->get_blob($id // ''), $blob, "read $k: the whole blob");
}

unlike($t->log_since($mark), qr/answered 502/,
   'no node request failed for a connection the node closed');

$t->stop;
kill 'TERM', @relays;
waitpid $_, 0 for @relays;

done_testing();
