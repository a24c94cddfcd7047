# HTTP gaps a Walrus client meets (issue: the whole Walrus HTTP API):
# GET /status answers "OK", /v1alpha/blobs/{id}/stream is the blob with
# X-Walrus-Streaming: true, every unknown path under the gateway answers
# the JSON error model (the gateway location is "/"), PUT takes
# encoding_type when it names our encoding and refuses another naming
# ours, If-Match is honoured (412 when it names another ETag, strong
# comparison), and the CORS preflight allows the conditional and cache
# request headers.  Nodes answer none of the gateway's own routes.
#
# The configuration (the harness's frame around it, t/lib/WalrusTest.pm):
#
#     server {                                    # the gateway
#         location / {
#             walrus_gateway;
#             walrus_gateway_key DIR/keys/gateway.key;
#             walrus_gateway_temp_path DIR/tmp/walrus;
#         }
#     }
#     server { location / { walrus_node; ... } }  # nodes 0..6

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use WalrusTest;

my $t = WalrusTest->new(n => 7, segment_size => 4096);
$t->write_config(gateway => 1)->run;
my $G = $t->gateway_url;
my $json = JSON::PP->new;

# --- /status -----------------------------------------------------------------

my $res = $t->get('/status');
is($res->{status}, 200, 'GET /status: 200');
is($res->{content}, 'OK', '... "OK"');
like($res->{headers}{'content-type'}, qr{^text/plain}, '... as text');
is($res->{headers}{'cache-control'}, 'no-store', '... never cached');
$res = $t->request('HEAD', "$G/status");
is($res->{status}, 200, 'HEAD /status: 200');
is($res->{content} // '', '', '... no body');
$res = $t->request('POST', "$G/status", 'x');
is($res->{status}, 405, 'POST /status: 405');
is($res->{headers}{allow}, 'GET, HEAD, OPTIONS', '... naming GET and HEAD');
is($t->node_request(0, 'GET', '/status')->{status}, 404,
   'a node has no /status');
is(WalrusTest::reason($t->node_request(0, 'GET', '/v1/audits')),
   'NO_SUCH_PATH', '... nor /v1/audits (the gateway\'s)');

# --- unknown paths --------------------------------------------------------------

for my $path ('/', '/favicon.ico', '/v2/blobs', '/v1/nothing', '/statuses',
              '/v1/blobs/x/y/z')
{
    $res = $t->get($path);
    my $reason = WalrusTest::reason($res);
    ok(($res->{status} == 404 && $reason eq 'NO_SUCH_PATH')
       || ($res->{status} == 400 && $reason eq 'INVALID_BLOB_ID'),
       "$path: the JSON error model ($res->{status} $reason)");
    like($res->{headers}{'content-type'} // '', qr{^application/json},
         '... in JSON');
}

# --- encoding_type -----------------------------------------------------------

my $blob = WalrusTest::blob_of(9000, 3);
my $id = $t->encode($blob);

sub put {
    my ($query) = @_;
    my $r = $t->request('PUT', "$G/v1/blobs$query", $blob);
    return ($r, eval { $json->decode($r->{content}) } || {});
}

my ($r, $d) = put('?encoding_type=RS2-GF8');
is($r->{status}, 200, 'PUT ?encoding_type=RS2-GF8 (ours): 200');
is($d->{newlyCreated}{blobObject}{blobId}, $id, '... the blob is stored');
my $obj = $d->{newlyCreated}{blobObject} // {};
ok(!exists $obj->{id} && !exists $obj->{storage}{id},
   '... with no object IDs (there is no chain to have them)');
is($obj->{storage}{endEpoch}, 2, '... stored until epoch 2 (epochs=1)');

# a blob already certified: the end epoch its registrations hold, not the
# one this request asks for
($r, $d) = put('?epochs=9');
is($d->{alreadyCertified}{blobId}, $id, 'PUT again: alreadyCertified');
is($d->{alreadyCertified}{endEpoch}, 2,
   '... with the end epoch of its registration (2), not of ?epochs=9');
($r) = put('?encoding_type=rs2-gf8');
is($r->{status}, 200, '... the name in any case');
($r) = put('?encoding_type=RS2');
is($r->{status}, 400, 'PUT ?encoding_type=RS2: 400');
is(WalrusTest::reason($r), 'UNSUPPORTED_ENCODING', '... UNSUPPORTED_ENCODING');
like($r->{content}, qr/encoding type \\"RS2\\" is not supported; this gateway encodes RS2-GF8 only/,
     '... naming the one it has');
($r) = put('?encodingtype=RS2-GF8');
is(WalrusTest::reason($r), 'UNKNOWN_PARAMETER',
   'a misspelt parameter is still refused');
like($r->{content}, qr/known: epochs, permanent, deletable, force, encoding_type/,
     '... listing encoding_type');

# --- If-Match -------------------------------------------------------------------

sub get_if {
    my ($method, $value) = @_;
    return $t->request($method, "$G/v1/blobs/$id", undef,
                       { 'If-Match' => $value });
}

$res = get_if('GET', qq{"$id"});
is($res->{status}, 200, 'If-Match with its ETag: 200');
is($res->{content}, $blob, '... the blob');
is(get_if('GET', '*')->{status}, 200, 'If-Match: *: 200');
is(get_if('GET', qq{"other", "$id"})->{status}, 200,
   'If-Match with a list holding it: 200');
$res = get_if('GET', '"0000000000000000000000000000000000000000000"');
is($res->{status}, 412, 'If-Match with another ETag: 412');
is(WalrusTest::reason($res), 'PRECONDITION_FAILED', '... PRECONDITION_FAILED');
is(get_if('GET', qq{W/"$id"})->{status}, 412,
   'If-Match compares strongly: a weak tag never matches');
is(get_if('HEAD', '"x"')->{status}, 412, 'HEAD too');
$res = $t->request('GET', "$G/v1/blobs/$id", undef,
                   { 'If-Match' => '"x"', Range => 'bytes=0-9' });
is($res->{status}, 412, '... before a Range is looked at');

# --- /v1alpha/blobs/{id}/stream ------------------------------------------------

$res = $t->get("/v1alpha/blobs/$id/stream");
is($res->{status}, 200, 'GET /v1alpha/blobs/{id}/stream: 200');
is($res->{content}, $blob, '... the blob');
is($res->{headers}{'x-walrus-streaming'}, 'true',
   '... with X-Walrus-Streaming: true');
is($res->{headers}{etag}, qq{"$id"}, '... and the blob\'s ETag');
is($t->get("/v1/blobs/$id")->{headers}{'x-walrus-streaming'}, undef,
   'the plain GET does not say it');
$res = $t->request('GET', "$G/v1alpha/blobs/$id/stream", undef,
                   { Range => 'bytes=10-19' });
is($res->{status}, 206, '... a Range on it: 206');
is($res->{content}, substr($blob, 10, 10), '... those bytes');
is($t->request('HEAD', "$G/v1alpha/blobs/$id/stream")->{status}, 200,
   'HEAD: 200');
is(WalrusTest::reason($t->get("/v1alpha/blobs/$id/metadata")),
   'NO_SUCH_PATH', 'another suffix: 404 NO_SUCH_PATH');
is(WalrusTest::reason($t->get('/v1alpha/blobs/nope/stream')),
   'INVALID_BLOB_ID', 'a malformed ID: 400 INVALID_BLOB_ID');
is($t->node_request(0, 'GET', "/v1alpha/blobs/$id/stream")->{status}, 404,
   'a node has no such route');

# --- CORS preflight ----------------------------------------------------------

$res = $t->request('OPTIONS', "$G/v1/blobs/$id", undef,
                   { Origin => 'https://app.example',
                     'Access-Control-Request-Method' => 'GET',
                     'Access-Control-Request-Headers' => 'if-match' });
is($res->{status}, 204, 'preflight: 204');
my %allowed = map { lc($_) => 1 }
              split /\s*,\s*/, $res->{headers}{'access-control-allow-headers'}
                               // '';
ok($allowed{$_}, "... allows $_")
    for qw(range if-match if-none-match if-range if-modified-since
           cache-control content-type);

$t->stop;

done_testing();
