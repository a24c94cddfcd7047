# Prometheus metrics (walrus_metrics): the exposition of conf.d/metrics.conf
# on a listener of its own passes "promtool check metrics"; under load
# (50 uploads and 200 reads in parallel, 404s and 400s, one node down
# and one that never answers, two workers) the numbers add up: requests
# counted per route and status are the requests made, bytes sent are the
# bodies received, each latency histogram's count is the sum of its
# buckets and the node's good fetches, uploads in flight come back to 0,
# the nodes' stored slivers and bytes are the files in their stores.
# A sliver that rots on a node is counted against it by the gateway, and
# by the node's scrubber and keeper.  Both workers show the same
# counters; a reload keeps them, workers killed with uploads in flight
# take only their gauge share with them, a new zone size starts them
# from zero.  The alert rules of conf.d pass "promtool
# check rules" and the unit tests of t/54-alerts.yml ("promtool test
# rules").

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use File::Find;
use HTTP::Tiny;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep time);
use WalrusTest;

my $ROOT = "$FindBin::Bin/..";
my $PROMTOOL = `command -v promtool 2>/dev/null`;
chomp $PROMTOOL;
my $NO_PROMTOOL = 'promtool is not installed (Debian package prometheus, '
    . 'which scripts/install-deps.sh installs)';

my $t = WalrusTest->new(n => 7);
my $dir = $t->dir;
my ($DOWN, $HUNG) = (5, 6);
my $mport = WalrusTest::free_port();
my $denied_port = WalrusTest::free_port();

# the shipped recipe on free ports, telling which worker answered; and a
# copy whose allow-list leaves loopback out
my $recipe = WalrusTest::read_file("$ROOT/conf.d/metrics.conf");
my $metrics_conf = $recipe;
$metrics_conf =~ s/listen 9145;/listen 127.0.0.1:$mport;/ or die 'listen';
$metrics_conf =~ s/(\n(\s*)walrus_metrics;)/$1\n$2add_header X-Worker \$pid;/
    or die 'walrus_metrics';
my $denied_conf = $recipe;
$denied_conf =~ s/listen 9145;/listen 127.0.0.1:$denied_port;/;
$denied_conf =~ s/\n\s*allow 127\.0\.0\.1;//;

my $GATEWAY = <<'EOF';
        location / {
            walrus_gateway;
            walrus_gateway_key %%DIR%%/keys/gateway.key;
            walrus_gateway_temp_path %%DIR%%/tmp/walrus;
            walrus_gateway_hedge_delay 50ms;
        }
EOF

# the nodes' keepers: a round a second, and a peer that never answers
# costs a round a second, not ten
my $NODE = $WalrusTest::NODE_LOCATION;
$NODE =~ s/(\n(\s*)walrus_node_scrub_rate 1m;)/$1\n$2walrus_node_keeper_interval 1s;/
    or die 'node location';
my $PEERS = $WalrusTest::NODE_PROXY;
$PEERS =~ s/proxy_read_timeout 10s;/proxy_read_timeout 1s;/ or die 'peers';
$PEERS =~ s/%%NODE_PROXY_EXTRA%%//;

sub config {
    my ($http) = @_;
    $t->write_config(workers => 2, redis => 1, down => [ $DOWN, $HUNG ],
                     gateway => $GATEWAY, node => $NODE . $PEERS,
                     http => ($http // '') . $metrics_conf . $denied_conf);
}

# node $HUNG accepts connections and never answers
my $hung = $t->start_relay($HUNG, sub {
    my ($c) = @_;
    1 while sysread $c, my $buf, 65536;
});

$t->start_redis;
config();
$t->run;

my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 0);
my $murl = "http://127.0.0.1:$mport/metrics";

sub scrape {
    my $res = $http->get($murl);
    die "metrics: $res->{status}" unless $res->{status} == 200;
    return $res;
}

sub samples { WalrusTest::metric_samples($_[0]) }


# --- the exposition before any traffic ---------------------------------------

my $res = scrape();
like($res->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4},
     'the exposition is text format 0.0.4');
my $s = samples($res->{content});
is($s->{'walrus_gateway_uploads_in_flight'}, 0, 'no upload in flight');
is($s->{'walrus_gateway_hedges_total'}, 0, 'no hedge yet');
ok(exists $s->{"walrus_node_healed_pairs_total{node=\"node$_\"}"},
   "node$_ has its metrics") for 0 .. 4;
ok(!grep(/node="node$DOWN"\}/ && /^walrus_node_/, keys %$s),
   'a node this nginx does not serve has none');
is($http->request('HEAD', $murl)->{status}, 200, 'HEAD is answered');
$res = $http->request('POST', $murl);
is($res->{status}, 405, 'POST is refused');
like($res->{content}, qr/"METHOD_NOT_ALLOWED"/, '... with a JSON error');
$res = $http->get("http://127.0.0.1:$denied_port/metrics");
is($res->{status}, 403, 'an address off the allow-list is refused');
like($res->{content}, qr/"PERMISSION_DENIED"/, '... with a JSON error');

# --- load ---------------------------------------------------------------------

my $gw = $t->gateway_url;
my @blobs = map { WalrusTest::pattern_blob(4 * (250 + 37 * $_), $_) } 0 .. 49;
my @ids;

# each request made: "route code body-bytes request-body-bytes", appended
# to a file per process
sub record {
    my ($fh, $route, $res, $sent) = @_;
    printf $fh "%s %d %d %d\n", $route, $res->{status},
        length($res->{content} // ''), $sent;
}

sub run_client {
    my ($name, $work) = @_;
    my $pid = fork // die "fork: $!";
    return $pid if $pid;
    my $c = HTTP::Tiny->new(timeout => 60, keep_alive => 1);
    open my $fh, '>', "$dir/requests.$name" or POSIX::_exit(1);
    $fh->autoflush(1);
    $work->($c, $fh);
    close $fh;
    POSIX::_exit(0);
}

# ten uploads one after another, whose blobs the readers read
{
    open my $fh, '>', "$dir/requests.first" or die;
    for my $i (0 .. 9) {
        my $r = $http->request('PUT', "$gw/v1/blobs",
                               { content => $blobs[$i] });
        record($fh, 'blobs', $r, length $blobs[$i]);
        push @ids, $r->{content} =~ /"blobId":"([\w-]{43})"/;
    }
    close $fh;
}
is(scalar @ids, 10, 'ten blobs stored') or BAIL_OUT('no blobs to read');

my $unknown = 'A' x 42 . 'A';
my @pids;
for my $p (0 .. 4) {
    push @pids, run_client("put$p", sub {
        my ($c, $fh) = @_;
        for my $i (map { 10 + $p * 8 + $_ } 0 .. 7) {
            record($fh, 'blobs', $c->request('PUT', "$gw/v1/blobs",
                                             { content => $blobs[$i] }),
                   length $blobs[$i]);
        }
    });
}
for my $p (0 .. 9) {
    push @pids, run_client("get$p", sub {
        my ($c, $fh) = @_;
        for my $k (0 .. 19) {
            my $id = $ids[($p * 7 + $k * 3) % 10];
            record($fh, 'blob', $c->get("$gw/v1/blobs/$id"), 0);
        }
        record($fh, 'blob', $c->request('HEAD', "$gw/v1/blobs/$ids[$p]"), 0);
        record($fh, 'blob', $c->get("$gw/v1/blobs/$unknown"), 0);
        record($fh, 'invalid_blob_id', $c->get("$gw/v1/blobs/nope"), 0);
        record($fh, 'other', $c->get("$gw/v2/nothing"), 0);
    });
}

# the gauge while uploads run (not required to be caught above 0)
my $max_flight = 0;
while (grep { waitpid($_, POSIX::WNOHANG()) == 0 } @pids) {
    my $v = samples(scrape()->{content})->{walrus_gateway_uploads_in_flight};
    $max_flight = $v if $v > $max_flight;
    sleep 0.02;
}
waitpid $_, 0 for @pids;
diag("uploads in flight, at most: $max_flight");

my (%count, %bytes, %body_in, $made);
for my $file (glob "$dir/requests.*") {
    for (split /\n/, WalrusTest::read_file($file)) {
        my ($route, $code, $len, $in) = split;
        $count{"$route $code"}++;
        $bytes{$route} += $len;
        $body_in{$route} += $in;
        $made++;
    }
}
is($made, 50 + 10 * 24, 'every request was made');
is($count{'blobs 200'}, 50, 'the 50 uploads succeeded');
is($count{'blob 200'}, 210, 'the 210 reads succeeded');
is($count{'blob 404'}, 10, 'unknown blobs are 404');

# --- the gateway's numbers add up ----------------------------------------------

# the requests by route and status; an upload is counted when it ends,
# once the node that never answers is given up (straggler timeout)
sub requests_seen {
    my ($samples) = @_;
    my %seen;
    for my $key (keys %$samples) {
        next unless $key =~ /^walrus_gateway_requests_total\{
                             route="(\w+)",code="(\w+)"\}$/x;
        $seen{"$1 $2"} = $samples->{$key};
    }
    return \%seen;
}

my $seen;
WalrusTest::eventually(sub {
    $s = samples(scrape()->{content});
    $seen = requests_seen($s);
    ($seen->{'blobs 200'} // 0) == $count{'blobs 200'};
}, 15);
is_deeply($seen, \%count,
          'requests counted by route and status are the requests made')
    or diag(explain($seen));

for my $route (sort keys %bytes) {
    is($s->{"walrus_gateway_sent_bytes_total{route=\"$route\"}"},
       $bytes{$route}, "bytes sent on route $route are the bodies received");
}
my $in = $s->{'walrus_gateway_received_bytes_total{route="blobs"}'};
ok($in > $body_in{blobs} && $in < $body_in{blobs} + 50 * 1024,
   'bytes received on route blobs are the bodies uploaded and headers');
is($s->{walrus_gateway_uploads_in_flight}, 0, 'no upload in flight after');
ok($s->{walrus_gateway_hedges_total} > 0,
   'reads hedged over the node that never answers');
ok($s->{"walrus_gateway_node_sliver_fetches_total{node=\"node$DOWN\","
        . 'result="failed"}'} > 0, 'fetches from the node down failed');
my $hits = $s->{'walrus_gateway_cache_lookups_total{layer="worker",'
                . 'result="hit"}'};
my $lookups = $hits + $s->{'walrus_gateway_cache_lookups_total{'
                            . 'layer="worker",result="miss"}'};
is($lookups, 210 + 10, 'a worker memory lookup per read of a blob ID');
ok($hits > 150, "most of them hit ($hits)");
diag("Redis errors under load (timeouts): "
     . $s->{walrus_gateway_redis_errors_total});

for my $i (0 .. 6) {
    my $node = "node=\"node$i\"";
    my $p = "walrus_gateway_node_latency_seconds";
    my ($prev, $monotonic) = (0, 1);
    for my $le (qw(0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 +Inf)) {
        my $v = $s->{"${p}_bucket{$node,le=\"$le\"}"};
        $monotonic = 0 if !defined $v || $v < $prev;
        $prev = $v // 0;
    }
    ok($monotonic, "node$i: the latency buckets never decrease");
    is($s->{"${p}_count{$node}"}, $prev,
       "node$i: the histogram's count is its +Inf bucket");
    is($prev, $s->{"walrus_gateway_node_sliver_fetches_total{$node,"
                   . 'result="ok"}'},
       "node$i: ... and the slivers it sent whole");
}
is($s->{"walrus_gateway_node_latency_seconds_count{node=\"node$HUNG\"}"}, 0,
   'the node that never answers has no latency');

# Redis gone: its lost connections are counted, reads go on
my $redis_errors = $s->{walrus_gateway_redis_errors_total};
$t->stop_redis;
ok(WalrusTest::eventually(sub {
    samples(scrape()->{content})->{walrus_gateway_redis_errors_total}
        > $redis_errors;
}, 10), 'a Redis that went away is counted as errors');
is($t->get("/v1/blobs/$ids[0]")->{status}, 200, '... and reads go on');

# --- the nodes' -----------------------------------------------------------------

for my $i (0 .. 4) {
    is($s->{"walrus_node_requests_total{node=\"node$i\",route=\"sliver\","
            . 'code="201"}'}, 100, "node$i stored two slivers per blob");
}

# stored slivers and bytes are what the keeper's last heal scan found:
# after its next whole pass, the files in the store
sub store_files {
    my ($i) = @_;
    my ($files, $size) = (0, 0);
    find(sub {
        return unless /^\d+\.(primary|secondary)$/ && -f $_;
        $files++;
        $size += -s _;
    }, $t->store($i));
    return ($files, $size);
}

for my $i (0 .. 4) {
    my ($files, $size) = store_files($i);
    my $got = '';
    ok(WalrusTest::eventually(sub {
        my $n = samples(scrape()->{content});
        $got = ($n->{"walrus_node_stored_slivers{node=\"node$i\"}"} // '')
            . ' ' . ($n->{"walrus_node_stored_sliver_bytes{node=\"node$i\"}"}
                     // '');
        $got eq "$files $size";
    }, 20), "node$i: stored slivers and bytes are its files ($files, $size)")
        or diag("metrics say $got");
}

# --- a sliver rots on a node ------------------------------------------------------

# a byte of a systematic primary sliver changes on disk, its time kept:
# the gateway counts the bad sliver of that node and still reads the
# blob; the node's scrubber sets the file aside, its keeper tries to
# heal it and fails (two of its six peers do not answer: four send
# recovery symbols, fewer than it needs)
my ($rot, $rot_id, $rot_pair);
FIND: for my $k (0 .. $#ids) {
    for my $i (0 .. 4) {
        my $pair = WalrusTest::Proto::shard_to_pair(
            WalrusTest::Proto::unb64url($ids[$k]), $t->n, $i);
        if ($pair < $t->n - 2 * $t->f) {
            ($rot, $rot_id, $rot_pair) = ($i, $k, $pair);
            last FIND;
        }
    }
}
my $file = $t->store($rot) . "/$ids[$rot_id]/$rot_pair.primary";
my @time = (stat $file)[8, 9];
open my $fh, '+<', $file or die "$file: $!";
sysseek $fh, 100, 0;
sysread $fh, my $byte, 1;
sysseek $fh, 100, 0;
syswrite $fh, chr(ord($byte) ^ 0x5a);
close $fh;
utime @time, $file;

my $bad = "walrus_gateway_node_bad_slivers_total{node=\"node$rot\"}";
my $before = $s->{$bad};
# (a worker that found node$rot slow under load asks it last for
# walrus_gateway_slow_timeout: read until a read asks it)
my ($reads, $right) = (0, 0);
ok(WalrusTest::eventually(sub {
    my $read = $t->get("/v1/blobs/$ids[$rot_id]");
    $reads++;
    $right++ if $read->{status} == 200
                && $read->{content} eq $blobs[$rot_id];
    samples(scrape()->{content})->{$bad} > $before;
}, 15), "node$rot has a bad sliver counted");
is($right, $reads, "... and the blob read right each time ($reads)");

my $rs;
ok(WalrusTest::eventually(sub {
    $rs = samples(scrape()->{content});
    $rs->{"walrus_node_heal_failures_total{node=\"node$rot\"}"} > 0;
}, 30), "node$rot counted a blob it could not heal");
is($rs->{"walrus_node_healed_pairs_total{node=\"node$rot\"}"}, 0,
   '... and no pair healed');
ok(WalrusTest::eventually(sub {
    samples(scrape()->{content})
        ->{"walrus_node_blobs{node=\"node$rot\",state=\"pending\"}"} == 1;
}, 20), "node$rot shows the blob pending");
ok($rs->{"walrus_node_scrub_bad_files_total{node=\"node$rot\"}"} >= 1,
   '... its scrubber set the file aside');
ok($rs->{"walrus_node_scrubbed_bytes_total{node=\"node$rot\"}"} > 0,
   '... reading what it holds');
ok($rs->{"walrus_node_heal_downloaded_bytes_total{node=\"node$rot\"}"}
   > 0, '... and downloaded recovery symbols');

# --- two workers, one set of counters -------------------------------------------

# the gateway's own series but Redis errors (Redis is down: they grow)
sub gateway_counters {
    return join "\n", grep { /^walrus_gateway_(?!node_|redis_errors)/ }
                      split /\n/, $_[0];
}

my (%by_worker, %gateway);
for (1 .. 40) {
    my $r = scrape();
    my $text = gateway_counters($r->{content});
    $by_worker{ $r->{headers}{'x-worker'} } = $text;
    last if keys %by_worker > 1;
}
is(scalar keys %by_worker, 2, 'both workers answered scrapes');
my @views = values %by_worker;
is($views[0], $views[-1], 'both show the same gateway counters');

# --- reloads ---------------------------------------------------------------------

sub reload {
    my @old = $t->worker_pids;
    kill 'HUP', $t->master_pid;
    return WalrusTest::eventually(sub {
        my %now = map { $_ => 1 } $t->worker_pids;
        !grep { $now{$_} } @old;
    }, 30);
}

ok(reload(), 'reloaded');
my $after = gateway_counters(scrape()->{content});
is($after, $views[0], 'a reload keeps every gateway counter');

# --- workers that crash ----------------------------------------------------------

# three uploads hold their slots (their bodies never finish) when both
# workers are killed: their share of the gauge goes with them, the
# counters stay, the new workers count on
my @held;
for (1 .. 3) {
    my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $t->gateway_port) or die $!;
    print $c "PUT /v1/blobs HTTP/1.1\r\nHost: gw\r\n"
        . "Content-Length: 100000\r\n\r\n" . ('x' x 10);
    push @held, $c;
}
ok(WalrusTest::eventually(sub {
    samples(scrape()->{content})->{walrus_gateway_uploads_in_flight} == 3;
}, 10), 'three uploads in flight');

my $kept = gateway_counters(scrape()->{content});
$t->allow_log(qr/exited on signal 9/);
my @old = $t->worker_pids;
kill 'KILL', @old;
ok(WalrusTest::eventually(sub {
    my %now = map { $_ => 1 } $t->worker_pids;
    keys %now == 2 && !grep { $now{$_} } @old;
}, 10), 'the master started two new workers');
close $_ for @held;

$s = samples(scrape()->{content});
is($s->{walrus_gateway_uploads_in_flight}, 0,
   'the uploads of the killed workers are no longer in flight');
(my $now = gateway_counters(scrape()->{content}))
    =~ s/^walrus_gateway_uploads_in_flight .*$//m;
$kept =~ s/^walrus_gateway_uploads_in_flight .*$//m;
is($now, $kept, 'every counter is as it was');
my $puts = $s->{'walrus_gateway_requests_total{route="blobs",code="200"}'};
is($t->request('PUT', "$gw/v1/blobs", 'after the crash')->{status}, 200,
   'an upload after the crash');
# (counted when the request ends: once the node that never answers is
# given up, walrus_gateway_straggler_timeout after the answer)
ok(WalrusTest::eventually(sub {
    $s = samples(scrape()->{content});
    $s->{'walrus_gateway_requests_total{route="blobs",code="200"}'}
        == $puts + 1;
}, 15), '... is counted');
is($s->{walrus_gateway_uploads_in_flight}, 0, '... and over');

SKIP: {
    skip $NO_PROMTOOL, 3 unless $PROMTOOL;
    WalrusTest::write_file("$dir/scrape.txt", scrape()->{content});
    my $out = `$PROMTOOL check metrics < $dir/scrape.txt 2>&1`;
    is($?, 0, 'promtool check metrics passes') or diag($out);
    $out = `$PROMTOOL check rules $ROOT/conf.d/walrus-alerts.yml 2>&1`;
    is($?, 0, 'promtool check rules passes on conf.d/walrus-alerts.yml')
        or diag($out);
    $out = `$PROMTOOL test rules $ROOT/t/54-alerts.yml 2>&1`;
    is($?, 0, 'the alerts fire on the series they are for (t/54-alerts.yml)')
        or diag($out);
}

config("    walrus_metrics_zone 2m;\n");
ok(reload(), 'reloaded with another zone size');
$s = samples(scrape()->{content});
ok(!grep(/^walrus_gateway_requests_total/, keys %$s),
   'a new zone size counts from zero');
is($s->{'walrus_gateway_sent_bytes_total{route="blob"}'}, 0,
   '... bytes too');

$t->stop;
kill 'KILL', $hung;
waitpid $hung, 0;
$? = 0;

# a zone too small for the metrics fails the configuration test
config("    walrus_metrics_zone 64k;\n");
my ($passed, $out) = $t->test_config;
ok(!$passed, 'a zone too small is refused');
like($out, qr/"walrus_metrics_zone" is too small/, '... saying so');

done_testing;
