# Uploads while nodes hang: a node that accepts connections and never
# answers (or a process stopped with SIGSTOP) must not make uploads fail.
# Once the quorum is reached and the answer is out, the upload holds no
# upload slot, and the requests still running to the hung nodes are
# cancelled after walrus_gateway_straggler_timeout, when the client sends
# its next request, or when max_uploads answered uploads linger already.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep time);
use WalrusTest;

my $t = WalrusTest->new(n => 7, segment_size => 65536);
my $dir = $t->dir;
my $n = $t->n;
my $f = $t->f;

# accepts every connection, reads what comes and never answers; logs the
# number of connections open after each change
sub start_black_hole {
    my ($port, $log) = @_;
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                  LocalPort => $port, Listen => 1024,
                                  ReuseAddr => 1)
        or die "black hole on $port: $!";
    my $pid = fork // die "fork: $!";
    if ($pid) {
        close $l;
        return $pid;
    }
    open my $fh, '>', $log or die "$log: $!";
    $fh->autoflush(1);
    my $sel = IO::Select->new($l);
    my ($open, $max) = (0, 0);
    while (1) {
        for my $s ($sel->can_read(1)) {
            if ($s == $l) {
                my $c = $l->accept or next;
                $sel->add($c);
                $max = $open + 1 if $open + 1 > $max;
                $open++;
            } else {
                next if sysread $s, my $buf, 65536;
                $sel->remove($s);
                close $s;
                $open--;
            }
            print $fh "open $open max $max\n";
        }
    }
}

# listens, then is stopped: the kernel still takes connections into the
# backlog, nothing ever reads or answers them
sub start_stopped {
    my ($port) = @_;
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                  LocalPort => $port, Listen => 1024,
                                  ReuseAddr => 1)
        or die "listener on $port: $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        sleep 1 while 1;
    }
    close $l;
    kill 'STOP', $pid;
    return $pid;
}

sub black_hole_state {
    my ($log) = @_;
    my @lines = split /\n/, WalrusTest::read_file($log) // '';
    my ($open, $max) = ($lines[-1] // 'open 0 max 0') =~ /open (\d+) max (\d+)/;
    return ($open, $max);
}

sub put_many {
    my ($count, $seed) = @_;
    my %status;
    for my $k (1 .. $count) {
        my $blob = WalrusTest::pattern_blob(1024, $seed * 100000 + $k);
        my $r = $t->request('PUT', $t->gateway_url . '/v1/blobs', $blob);
        $status{$r->{status}}++;
    }
    return join ' ', map { "${_}x$status{$_}" } sort keys %status;
}

my $uploads = 4;
my $GATEWAY = <<"EOF";
        location /v1/ {
            walrus_gateway;
            walrus_gateway_key %%DIR%%/keys/gateway.key;
            walrus_gateway_temp_path %%DIR%%/tmp/walrus;
            walrus_gateway_max_uploads $uploads;
            walrus_gateway_straggler_timeout 2s;
        }
EOF

# one node accepts and never answers

my $hole_log = "$dir/logs/black_hole.log";
# the nodes' keepers stay off: their own calls to the black hole would
# be open too, and the test counts the gateway's
$t->write_config(gateway => $GATEWAY, down => [ 6 ],
                 http => "    walrus_node_keeper off;\n");
my $hole = start_black_hole($t->node_port(6), $hole_log);
$t->run;

my $mark = $t->log_mark;
my $start = time;
is(put_many(300, 1), '200x300',
   '300 sequential uploads with one node that never answers: all 200');
my $took = time - $start;
cmp_ok($took, '<', 60, 'and none of them waited for the hung node')
    or diag("300 uploads took $took s");

my (undef, $max) = black_hole_state($hole_log);
cmp_ok($max, '>', 0, 'the gateway did send requests to the hung node');

# each answered upload leaves at most its certificate check, metadata
# and certificate requests to the hung node, and at most max_uploads
# answered uploads linger (one more is being answered, and the black
# hole may see a new connection before the close of a cancelled one)
cmp_ok($max, '<=', 3 * ($uploads + 2),
       'requests left to the hung node are bounded by max_uploads')
    or diag("at most $max connections were open at once");

my $open;
for (1 .. 60) {
    ($open) = black_hole_state($hole_log);
    last if $open == 0;
    sleep 0.1;
}
is($open, 0, 'after the straggler timeout no request to it is left open');

like($t->log_since($mark), qr/cancelling \d+ requests to slow nodes/,
   'the cancelled requests are logged');

# a kept-alive client is not made to wait for the hung node: its next
# request on the same connection is answered at once

my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                              PeerPort => $t->gateway_port)
    or die "connect: $!";
my $blob = WalrusTest::pattern_blob(2048, 77);
print $c "PUT /v1/blobs HTTP/1.1\r\nHost: gw\r\nContent-Length: "
    . length($blob) . "\r\n\r\n$blob";

my ($h, $body) = WalrusTest::read_message($c);
like($h // '', qr{^HTTP/1\.1 200}, 'a kept-alive upload answers 200');
unlike($h // '', qr/^Connection: close/mi, '... and keeps the connection');
my ($id) = ($body // '') =~ /"blobId":"([A-Za-z0-9_-]{43})"/;

$start = time;
print $c "GET /v1/blobs/" . ($id // 'x') . " HTTP/1.1\r\nHost: gw\r\n\r\n";
($h, $body) = WalrusTest::read_message($c);
$took = time - $start;
like($h // '', qr{^HTTP/1\.1 200}, 'the next request on it answers 200');
ok(defined $body && $body eq $blob, '... with the blob');
cmp_ok($took, '<', 1.5, '... without waiting for the 2 s straggler timeout')
    or diag("took $took s");
close $c;

$t->stop;
kill 'KILL', $hole;
waitpid $hole, 0;

# f nodes stopped with SIGSTOP

my @stopped;
$t->write_config(gateway => $GATEWAY,
                 down => [ map { $n - 1 - $_ } 0 .. $f - 1 ],
                 http => "    walrus_node_keeper off;\n");
push @stopped, start_stopped($t->node_port($n - 1 - $_)) for 0 .. $f - 1;
$t->run;

is(put_many(300, 2), '200x300',
   "300 sequential uploads with $f stopped nodes: all 200");

$t->stop;
kill 'KILL', @stopped;
waitpid $_, 0 for @stopped;

done_testing();
