# A cache in front of the gateway: conf.d/cache.conf as shipped (nginx's
# proxy_cache with the slice module), its listen port, the gateway's
# address, its cache directory and the slice size (one segment, 64 KiB
# here) replaced.  A repeated read is a HIT that the gateway never sees;
# a cold 100-byte range costs the gateway one slice (one segment), not
# the blob; ranges are byte-exact across slice boundaries cold and warm;
# If-None-Match answers 304; an expired slice is revalidated with the
# gateway's 304; a HEAD that misses fetches the first slice
# only; a 404 is kept 10 s, then the blob uploaded meanwhile is served;
# a 503 is not kept; with the
# gateway stopped, cached blobs are still served.
#
# The configuration: the gateway in an nginx of its own (the harness's
# start_gateway: the default gateway locations), and in the nodes'
# nginx (the harness's frame, t/lib/WalrusTest.pm):
#
#     http {
#         <conf.d/cache.conf>     # listen 127.0.0.1:<cache port>,
#                                 # server 127.0.0.1:<gateway port>,
#                                 # DIR/cache, slice 64k
#         walrus_node_keeper off;
#     }
#     server { location / { walrus_node; ... } }  # nodes 0..6

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use File::Path qw(remove_tree);
use Time::HiRes qw(sleep time);
use WalrusTest;

my $S = 65536;
my $t = WalrusTest->new(n => 7, segment_size => $S);
my $dir = $t->dir;
mkdir "$dir/tmp";                     # the gateway's temp paths are there
# deletable blobs are cached 3 s (permanent ones for days): long enough
# for the HITs below, short enough to see one revalidated
my $gw = $t->start_gateway('gw', $t->committee,
                           gateway_extra => 'walrus_gateway_short_max_age 3s;');
my ($gw_port) = $gw =~ /:(\d+)$/;
my $port = WalrusTest::free_port();
my $C = "http://127.0.0.1:$port";

$t->write_config(http => $t->recipe('cache.conf',
    'listen 80;' => "listen 127.0.0.1:$port;",
    'server 127.0.0.1:8080;' => "server 127.0.0.1:$gw_port;",
    '/var/cache/walrus' => "$dir/cache",
    'slice 4m;' => 'slice 64k;')
    # the keepers would heal the slivers a test below takes away
    . "    walrus_node_keeper off;\n")->run;
ok(eventually(sub { $t->request('GET', "$C/v1/health")->{status} == 200 },
              10), 'the cache answers, through the gateway');

# the gateway's access log lines written since the last call: "METHOD URI
# STATUS BYTES "RANGE"" (a request is logged once it ended, which may be
# just after the cache has answered: a pause first)
my $gw_log = "$dir/gw/logs/access.log";
my $gw_seen = 0;
sub gateway_lines {
    sleep 0.2;
    my $log = WalrusTest::read_file($gw_log) // '';
    my @lines = split /\n/, substr($log, $gw_seen);
    $gw_seen = length $log;
    return @lines;
}

# bytes of sliver answers the nodes sent for blob $id since $marks
sub node_bytes {
    my ($id, $marks) = @_;
    my $sum = 0;
    for my $i (0 .. $t->n - 1) {
        my $log = WalrusTest::read_file("$dir/logs/node$i.access.log") // '';
        for (split /\n/, substr($log, $marks->[$i])) {
            $sum += $1 if m{^GET /v1/blobs/\Q$id\E/\S*sliver\S* 20\d (\d+)};
        }
    }
    return $sum;
}

sub node_marks {
    return [ map { length(WalrusTest::read_file(
        "$dir/logs/node$_.access.log") // '') } 0 .. $t->n - 1 ];
}

sub get {
    my ($id, $headers, $method) = @_;
    return $t->request($method // 'GET', "$C/v1/blobs/$id", undef,
                       $headers // {});
}

# uploads are permanent, for 5 epochs unless $query says otherwise
sub put {
    my ($blob, $query) = @_;
    $query //= '?epochs=5&permanent=true';
    my $res = $t->request('PUT', "$C/v1/blobs$query", $blob);
    is($res->{status}, 200, 'PUT through the cache: 200');
    my $id = $t->cli_blob_id($blob);
    like($res->{content}, qr/\Q$id\E/, '... the blob ID');
    gateway_lines();
    return $id;
}

# --- MISS, then HIT ----------------------------------------------------------

my $len = 5 * $S - 1000;
my $blob = blob_of($len, 1);
my $id = put($blob);

my $res = get($id);
blob_is($res, $blob, 'a cold GET: the blob');
is($res->{headers}{'x-cache-status'}, 'MISS', '... X-Cache-Status: MISS');
is($res->{headers}{etag}, qq{"$id"}, '... its ETag');
like($res->{headers}{'cache-control'} // '', qr/max-age=\d+/,
     '... the gateway\'s Cache-Control');
my @lines = gateway_lines();
is(scalar @lines, 5, '... the gateway served 5 slices');
is(scalar(grep { m{^GET /v1/blobs/\Q$id\E 206 (\d+) "bytes=(\d+)-(\d+)"}
                 && $3 - $2 + 1 == $S && $2 % $S == 0 } @lines), 5,
   '... each a segment-aligned Range of one segment')
    or diag(join "\n", @lines);

$res = get($id);
blob_is($res, $blob, 'again: the blob');
is($res->{headers}{'x-cache-status'}, 'HIT', '... a HIT');
is(scalar(gateway_lines()), 0, '... the gateway was not asked');

$res = $t->request('OPTIONS', "$C/v1/blobs/$id", undef,
                   { Origin => 'https://app.example',
                     'Access-Control-Request-Method' => 'GET' });
is($res->{status}, 204, 'a CORS preflight: the gateway\'s 204');
like($res->{headers}{'access-control-allow-headers'} // '', qr/Range/,
     '... allowing Range');
is($res->{headers}{'x-cache-status'} // '', '', '... not cached');

# --- ranges ------------------------------------------------------------------

my $blob2 = blob_of($len, 2);
my $id2 = put($blob2);
my $marks = node_marks();

my $t0 = time;
$res = get($id2, { Range => 'bytes=100000-100099' });
my $ms = 1000 * (time - $t0);
blob_is($res, substr($blob2, 100000, 100), 'a cold 100-byte range',
        status => 206);
is($res->{headers}{'content-range'}, "bytes 100000-100099/$len",
   '... its Content-Range');
@lines = gateway_lines();
my $sent = 0;
$sent += (split ' ', $_)[3] for @lines;
is(scalar @lines, 1, '... one request to the gateway');
like($lines[0] // '', qr/"bytes=65536-131071"$/, '... for the second slice');
ok($sent <= $S, "... the gateway sent $sent bytes (one segment at most)");
my $nb = node_bytes($id2, $marks);
ok($nb > 0 && $nb < $len / 2,
   "... the nodes sent $nb bytes of slivers (the blob is $len)");
diag(sprintf 'cold 100-byte range: gateway %d bytes, nodes %d bytes, '
     . '%.0f ms', $sent, $nb, $ms);

# across slice boundaries, the first slice warm and the others cold
my ($a, $b) = (100000, 3 * $S + 10);
$res = get($id2, { Range => "bytes=$a-$b" });
blob_is($res, substr($blob2, $a, $b - $a + 1),
        "bytes=$a-$b, across two slice boundaries (cold)", status => 206);
is(scalar(gateway_lines()), 2, '... the two cold slices fetched');
$res = get($id2, { Range => "bytes=$a-$b" });
blob_is($res, substr($blob2, $a, $b - $a + 1), '... warm', status => 206);
is($res->{headers}{'x-cache-status'}, 'HIT', '... a HIT');
for my $r ([$S - 1, $S], [2 * $S - 50, 4 * $S + 49], [4 * $S, $len - 1]) {
    $res = get($id2, { Range => "bytes=$r->[0]-$r->[1]" });
    blob_is($res, substr($blob2, $r->[0], $r->[1] - $r->[0] + 1),
            "bytes=$r->[0]-$r->[1]", status => 206);
}
$res = get($id2, { Range => 'bytes=-100' });
blob_is($res, substr($blob2, -100), 'bytes=-100: the last 100 bytes',
        status => 206);
$res = get($id2, { Range => "bytes=$len-" });
is($res->{status}, 416, 'a range starting at the end (in the last slice): 416');
is($res->{headers}{'content-range'}, "bytes */$len", '... bytes */length');
is(WalrusTest::reason($res), 'RANGE_NOT_SATISFIABLE', '... in JSON');
is(scalar(gateway_lines()), 2,
   '... two more slices fetched for all that (the first and the last)');
$res = get($id2, { Range => 'bytes=400000-' });
is($res->{status}, 416, 'a range starting past the last slice: 416');
is($res->{headers}{'content-range'}, "bytes */$len", '... bytes */length');
is(WalrusTest::reason($res), 'RANGE_NOT_SATISFIABLE', '... in JSON');
@lines = gateway_lines();
is(scalar @lines, 2, '... the gateway asked twice');
like($lines[1] // '', qr/ 416 \d+ "bytes=400000-"$/,
     '... the second time with the client\'s range');

# an empty blob: the gateway answers a slice's Range on it 416 (no byte
# to serve), and the recipe asks again with the client's Range
$res = $t->request('PUT', "$C/v1/blobs", '');
my $id0 = $t->cli_blob_id('');
$res = get($id0);
blob_is($res, '', 'an empty blob: 200, empty');
is($res->{headers}{'content-length'}, 0, '... Content-Length: 0');
is($res->{headers}{etag}, qq{"$id0"}, '... its ETag');
$res = get($id0, { Range => 'bytes=0-9' });
is($res->{status}, 416, 'a range of it: 416');
is($res->{headers}{'content-range'}, 'bytes */0', '... bytes */0');
gateway_lines();

# --- 304 ---------------------------------------------------------------------

$res = get($id, { 'If-None-Match' => qq{"$id"} });
is($res->{status}, 304, 'If-None-Match with the ETag (warm): 304');
is($res->{content} // '', '', '... no body');
is($res->{headers}{etag}, qq{"$id"}, '... the ETag');
$res = get($id, { 'If-None-Match' => '"other"' });
blob_is($res, $blob, 'If-None-Match with another tag: the blob');

my $blob3 = blob_of(3 * $S, 3);
my $id3 = put($blob3);
$res = get($id3, { 'If-None-Match' => qq{"$id3"} });
is($res->{status}, 304, 'If-None-Match (cold): 304');
is(scalar(gateway_lines()), 1, '... after one slice was fetched');

# --- revalidation ------------------------------------------------------------

my $blob8 = blob_of(2 * $S, 8);
my $id8 = put($blob8, '');
$res = get($id8);
blob_is($res, $blob8, 'a deletable blob');
is($res->{headers}{'cache-control'}, 'public, max-age=3',
   '... public, max-age=3 (walrus_gateway_short_max_age)');
gateway_lines();
sleep 5;           # nginx counts whole seconds, and keeps the last one
$res = get($id8, { Range => 'bytes=10-19' });
blob_is($res, substr($blob8, 10, 10), '5 s later: a range of it',
        status => 206);
is($res->{headers}{'x-cache-status'}, 'REVALIDATED', '... REVALIDATED');
@lines = gateway_lines();
is(scalar @lines, 1, '... after one request to the gateway');
like($lines[0] // '', qr{^GET /v1/blobs/\Q$id8\E 304 0 },
     '... answered 304 (If-None-Match), no byte of the blob sent');
is(get($id8)->{headers}{'x-cache-status'}, 'HIT', 'then a HIT again');

# --- HEAD --------------------------------------------------------------------

my $blob4 = blob_of(4 * $S + 7, 4);
my $id4 = put($blob4);
$res = get($id4, {}, 'HEAD');
is($res->{status}, 200, 'a cold HEAD: 200');
is($res->{headers}{'content-length'}, 4 * $S + 7,
   '... the whole length, not the slice\'s');
is($res->{content} // '', '', '... no body');
is($res->{headers}{'x-cache-status'}, 'MISS', '... a MISS');
@lines = gateway_lines();
is(scalar @lines, 1, '... one request to the gateway');
like($lines[0] // '', qr{^GET /v1/blobs/\Q$id4\E 206 $S "bytes=0-65535"$},
     '... a GET of the first slice (proxy_cache_convert_head)');
$res = get($id4, { Range => 'bytes=0-99' });
blob_is($res, substr($blob4, 0, 100), 'then a range in it', status => 206);
is($res->{headers}{'x-cache-status'}, 'HIT', '... a HIT');
$res = get($id4, {}, 'HEAD');
is($res->{headers}{'x-cache-status'}, 'HIT', 'HEAD again: a HIT');
is(scalar(gateway_lines()), 0, '... the gateway was not asked');

# --- a 404 is kept briefly ---------------------------------------------------

my $blob5 = blob_of(2 * $S, 5);
my $id5 = $t->cli_blob_id($blob5);
$res = get($id5);
is($res->{status}, 404, 'a blob not yet uploaded: 404');
is(WalrusTest::reason($res), 'BLOB_NOT_FOUND', '... BLOB_NOT_FOUND');
is($res->{headers}{'x-cache-status'}, 'MISS', '... a MISS');
$res = get($id5);
is($res->{status}, 404, 'again: 404');
is($res->{headers}{'x-cache-status'}, 'HIT', '... from the cache');
my $t404 = time;
put($blob5);
$res = get($id5);
is($res->{status}, 404, 'uploaded meanwhile: still the cached 404');
ok(eventually(sub { get($id5)->{status} == 200 }, 15),
   'then the blob, once the 404 expired');
my $took = time - $t404;
ok($took > 5 && $took < 15, sprintf('... after %.1f s (the 404 is kept 10 s)',
                                    $took));
blob_is(get($id5), $blob5, '... the blob');

# --- an error is not kept ----------------------------------------------------

my $blob7 = blob_of(2 * $S, 7);
my $id7 = put($blob7);
ok(eventually(sub {
       !grep { !-e $t->store($_) . "/$id7/certificate" } 0 .. $t->n - 1 }),
   'every node holds the certificate');
remove_tree($t->store($_) . "/$id7") for 0 .. $t->n - $t->f - 1;
gateway_lines();
for my $try ('', 'again ') {
    $res = get($id7);
    is("$res->{status} " . WalrusTest::reason($res), '503 NOT_ENOUGH_SLIVERS',
       "${try}a blob that lost n - f sliver pairs: 503 NOT_ENOUGH_SLIVERS");
    is($res->{headers}{'x-cache-status'}, 'MISS', '... not from the cache');
    is(scalar(gateway_lines()), 1, '... the gateway was asked');
}

# --- the gateway stopped -----------------------------------------------------

my $blob6 = blob_of($S, 6);
my $id6 = put($blob6);

$t->stop_gateway('gw');
$res = get($id);
blob_is($res, $blob, 'the gateway stopped: a cached blob is served');
is($res->{headers}{'x-cache-status'}, 'HIT', '... a HIT');
$res = get($id2, { Range => "bytes=$a-$b" });
blob_is($res, substr($blob2, $a, $b - $a + 1), '... and a cached range',
        status => 206);
$res = get($id6);
is($res->{status}, 502, 'a blob never read: 502');
$res = get($id3);
ok($res->{status} != 200 || length($res->{content}) < length($blob3),
   "a blob of which one slice of three is cached: cut short ($res->{status})");

$t->stop;

done_testing();
