# A node that a read hedged over is asked last by the worker's later
# reads for walrus_gateway_slow_timeout.  After that, a read asks it once
# on the side (a probe): no read waits a hedge delay for it again, and a
# node that answers the probe becomes a first choice again.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(time sleep);
use WalrusTest;

my $MiB = 1024 * 1024;
my $HEDGE = 0.3;
my $SLOW_TIMEOUT = 1;
my $t = WalrusTest->new(n => 7, segment_size => 4 * $MiB);
my $dir = $t->dir;
my $gw = sub { $t->gateway_url . $_[0] };

my $blob = WalrusTest::pattern_blob($MiB, 2);

$t->write_config(gateway => <<'EOF')->run;
        location /v1/ {
            walrus_gateway;
            walrus_gateway_key %%DIR%%/keys/gateway.key;
            walrus_gateway_temp_path %%DIR%%/tmp/walrus;
        }
EOF
my $id = $t->put_blob($blob);
ok($id, 'a 1 MiB blob is stored') or BAIL_OUT('no blob to read');
$t->stop;

# the node of pair 0 (asked first) sits behind a server that answers 3 s
# late while $dir/slow exists, and passes requests on at once otherwise
my $late = WalrusTest::Proto::id_mod(WalrusTest::Proto::unb64url($id),
                                     $t->n);
my $port = $t->node_port($late);
my $real_port = WalrusTest::free_port();
my $real = $t->node_server($late);
$real =~ s/listen 127\.0\.0\.1:$port;/listen 127.0.0.1:$real_port;/
    or die 'cannot move the node';

WalrusTest::write_file("$dir/slow", '');
my $hedge_ms = $HEDGE * 1000;
$t->write_config(down => [ $late ],
    main => 'load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;',
    gateway => <<"EOF", http => $real . <<"END");
        location /v1/ {
            walrus_gateway;
            walrus_gateway_key %%DIR%%/keys/gateway.key;
            walrus_gateway_temp_path %%DIR%%/tmp/walrus;
            walrus_gateway_hedge_delay ${hedge_ms}ms;
            walrus_gateway_slow_timeout ${SLOW_TIMEOUT}s;
        }
EOF
    upstream real_node {
        server 127.0.0.1:$real_port;
        keepalive 4;
    }

    server {
        listen 127.0.0.1:$port;
        access_log $dir/logs/late.access.log walrus;

        location / {
            if (-f $dir/slow) {
                echo_sleep 3;
                echo slow;
            }

            proxy_pass http://real_node;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
    }
END
$t->run;

# seconds a read takes; dies unless it gives the blob
sub timed_read {
    my $start = time;
    my $r = $t->request('GET', $gw->("/v1/blobs/$id"));
    die "GET: $r->{status}" unless $r->{status} == 200
                                   && $r->{content} eq $blob;
    return time - $start;
}

# requests the late node's server answered, by their status
sub late_answers {
    my ($status) = @_;
    my $log = WalrusTest::read_file("$dir/logs/late.access.log") // '';
    return scalar(() = $log =~ /^GET \S+ $status /mg);
}

my $took = timed_read();
cmp_ok($took, '>=', $HEDGE * 0.9,
       sprintf('the first read waits the hedge delay (%.3f s)', $took));
cmp_ok($took, '<', 2, '... and not for the late node');

my @fast = map { timed_read() } 1 .. 3;
ok(!grep({ $_ >= $HEDGE * 0.9 } @fast),
   sprintf('later reads do not wait for it (%s s)',
           join ' ', map { sprintf '%.3f', $_ } @fast));

# the timeout is over: a read asks the node on the side and does not wait
sleep $SLOW_TIMEOUT + 0.2;
@fast = map { timed_read() } 1 .. 3;
ok(!grep({ $_ >= $HEDGE * 0.9 } @fast),
   sprintf('after walrus_gateway_slow_timeout, reads still do not wait '
           . '(%s s)', join ' ', map { sprintf '%.3f', $_ } @fast));

# the node recovers.  A probe that loses the race with the p other
# slivers ends with its read and tells the gateway nothing (the node's
# log may still show it answered); the next read a hedge delay on asks
# again.  The gateway took the node back once the second and third of
# three reads within a hedge delay (at most one of them probes) both
# reached it.
unlink "$dir/slow" or die "unlink: $!";
sleep $SLOW_TIMEOUT + 0.2;

# how many of `count` back-to-back reads the late node answered
sub answered_reads {
    my ($count) = @_;
    my $answered = 0;
    for (1 .. $count) {
        my $before = late_answers(206);
        timed_read();
        sleep 0.05;
        $answered++ if late_answers(206) > $before;
    }
    return $answered;
}

my $tries = 0;
until ($tries == 20) {
    $tries++;
    timed_read();
    sleep 0.05;
    last if answered_reads(2) == 2;
    sleep $HEDGE + 0.1;
}
cmp_ok($tries, '<', 20, "a probe found the node fast ($tries tries)");
my $reads = 5;
my $start = time;
my $answered = answered_reads($reads);
$took = time - $start;
is($answered, $reads,
   sprintf('the recovered node is asked again by every read (%.3f s)',
           $took));
@fast = map { timed_read() } 1 .. $reads;
ok(!grep({ $_ >= $HEDGE * 0.9 } @fast), 'reads after it recovered are fast');

# a node that stays slow is not asked by every read: a probe cut short
# by its read is sent again a hedge delay later, not sooner
WalrusTest::write_file("$dir/slow", '');
$t->restart;
timed_read();
sleep 3.2;
# the reads' sliver requests: the node's keeper also asks its peers
sub sliver_gets {
    my $log = WalrusTest::read_file("$dir/logs/late.access.log") // '';
    return scalar(() = $log =~ m{^GET /v1/blobs/\S+/slivers/}mg);
}
my $before = sliver_gets();
$start = time;
timed_read() for 1 .. $reads;
$took = time - $start;
sleep 3.5;
my $after = sliver_gets();
cmp_ok($after - $before, '>=', 1, "$reads reads after the timeout probe it");
cmp_ok($after - $before, '<=', 1 + int($took / $HEDGE),
       sprintf('... once per hedge delay (%d in %.3f s)',
               $after - $before, $took));

$t->stop;

done_testing;
