# GET /v1/api: the gateway serves docs/openapi.yaml (built into the
# module), the document validates with a standard OpenAPI validator
# (@apidevtools/swagger-parser from npm, t/tools/openapi), and it
# describes every route the gateway has: each documented method and path
# is answered by the gateway (never NO_SUCH_PATH or 405), and each route
# of the gateway is documented.
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
use WalrusTest;

my $ROOT = $WalrusTest::ROOT;
my $TOOLS = "$ROOT/t/tools/openapi";
my $DOC = "$ROOT/docs/openapi.yaml";

# the validator, installed from the lock file once
unless (-d "$TOOLS/node_modules/\@apidevtools/swagger-parser") {
    my ($rc, $out, $err) = WalrusTest::capture({ cwd => $TOOLS }, $TOOLS,
                                               'npm', 'ci', '--no-audit',
                                               '--no-fund');
    is($rc, 0, 'npm ci installs the OpenAPI validator') or diag($err);
}

my $t = WalrusTest->new(n => 7, segment_size => 4096);
$t->write_config(gateway => 1)->run;
my $G = $t->gateway_url;

my $res = $t->get('/v1/api');
is($res->{status}, 200, 'GET /v1/api: 200');
like($res->{headers}{'content-type'}, qr{^application/yaml},
     '... application/yaml');
ok($res->{content} eq WalrusTest::read_file($DOC),
   '... docs/openapi.yaml, byte for byte');
is($t->request('HEAD', "$G/v1/api")->{status}, 200, 'HEAD /v1/api: 200');
is($t->node_request(0, 'GET', '/v1/api')->{status}, 404,
   'a node has no /v1/api');

# the document as served validates
WalrusTest::write_file($t->dir . '/api.yaml', $res->{content});
my ($rc, $out, $err) = WalrusTest::capture({}, $t->dir, 'node',
                                           "$TOOLS/validate.js",
                                           $t->dir . '/api.yaml');
is($rc, 0, 'the OpenAPI validator accepts it') or diag($err);
my %documented = map { $_ => 1 } split /\n/, $out;
ok(keys %documented >= 20, scalar(keys %documented) . ' operations');

# a broken copy does not (the validator can fail)
(my $broken = $res->{content}) =~ s/\$ref: "#\/components\/responses\/Error"/\$ref: "#\/components\/responses\/Nothing"/;
WalrusTest::write_file($t->dir . '/broken.yaml', $broken);
($rc) = WalrusTest::capture({}, $t->dir, 'node', "$TOOLS/validate.js",
                            $t->dir . '/broken.yaml');
isnt($rc, 0, 'a copy with a dangling $ref does not validate');

# every route of the gateway, as its dispatcher knows them
my @routes = (
    'PUT /v1/blobs', 'OPTIONS /v1/blobs',
    'GET /v1/blobs/{blobId}', 'HEAD /v1/blobs/{blobId}',
    'OPTIONS /v1/blobs/{blobId}',
    'GET /v1/blobs/{blobId}/byte-range', 'HEAD /v1/blobs/{blobId}/byte-range',
    'GET /v1/blobs/{blobId}/status', 'HEAD /v1/blobs/{blobId}/status',
    'GET /v1alpha/blobs/{blobId}/stream',
    'HEAD /v1alpha/blobs/{blobId}/stream',
    'GET /v1alpha/blobs/concat', 'HEAD /v1alpha/blobs/concat',
    'POST /v1alpha/blobs/concat', 'OPTIONS /v1alpha/blobs/concat',
    'GET /v1/health', 'HEAD /v1/health',
    'GET /v1/audits', 'HEAD /v1/audits',
    'GET /v1/audits/{node}/rounds/{round}/certificate',
    'HEAD /v1/audits/{node}/rounds/{round}/certificate',
    'GET /v1/audits/{node}/frauds/{round}',
    'HEAD /v1/audits/{node}/frauds/{round}',
    'GET /v1/api', 'HEAD /v1/api', 'GET /status', 'HEAD /status',
    'PUT /v1/quilts', 'OPTIONS /v1/quilts',
    'GET /v1/quilts/{quiltId}/patches', 'HEAD /v1/quilts/{quiltId}/patches',
    'GET /v1/blobs/by-quilt-id/{quiltId}/{identifier}',
    'HEAD /v1/blobs/by-quilt-id/{quiltId}/{identifier}',
    'GET /v1/blobs/by-quilt-patch-id/{patchId}',
    'HEAD /v1/blobs/by-quilt-patch-id/{patchId}',
);
my @undocumented = grep { !$documented{$_} } @routes;
is_deeply(\@undocumented, [], 'every route of the gateway is documented');

# docs/http-api.md's table of routes (G2) lists the same operations
my $api = WalrusTest::read_file("$ROOT/docs/http-api.md");
my ($table) = $api =~ /^## G2\..*?\n(\|.*?)\n\n/ms;
my %in_table;
for my $row (split /\n/, $table // '') {
    my ($methods, $paths) = $row =~ /^\| ([A-Z, ]+) \| (.*?) \|/ or next;
    for my $path ($paths =~ /`([^`]+)`/g) {
        $path =~ s/\?.*//;
        $path =~ s/\{id\}/{blobId}/;
        $path =~ s/\{X\}/{node}/;
        $path =~ s/\{r\}/{round}/;
        $in_table{"$_ $path"} = 1 for split /, /, $methods;
    }
}
ok(keys %in_table >= 20, 'http-api.md G2 lists ' . keys(%in_table)
                         . ' operations');
is_deeply([ grep { !$documented{$_} } sort keys %in_table ], [],
          '... each of them in openapi.yaml');
is_deeply([ grep { !$in_table{$_} && !/^OPTIONS / } sort keys %documented ],
          [], '... and each of openapi.yaml\'s in it');

# and every documented operation is one the gateway answers
my $blob = WalrusTest::blob_of(5000, 7);
my $id = $t->put_blob($blob);
ok($id, 'a blob to ask about');
for my $op (sort keys %documented) {
    my ($method, $path) = split / /, $op;
    $path =~ s/\{(?:blobId|quiltId)\}/$id/;
    $path =~ s/\{node\}/0/;
    $path =~ s/\{round\}/1/;
    $path .= '?start=0&length=10' if $path =~ /byte-range$/;
    my $r = $t->request($method, "$G$path",
                        $method eq 'PUT' ? $blob : undef);
    my $reason = WalrusTest::reason($r);
    ok($reason ne 'NO_SUCH_PATH' && $r->{status} != 405,
       "$op: the gateway answers it ($r->{status}"
       . ($reason ne '' ? " $reason" : '') . ')');
}

$t->stop;

done_testing();
