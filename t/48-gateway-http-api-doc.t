# docs/http-api.md keeps to the gateway: its table of each route's
# statuses (G15) is read, and for every row marked t/48 a request built
# to cause that status is sent and the gateway must answer it (the
# status, and the reason of a JSON error).  A row whose status the
# gateway does not give fails, a row this test has no request for
# fails, a row shown by another test needs that test to name its
# reason, and every route of the gateway (and of G2's table) must have
# rows.
#
# The configuration (the harness's frame around it, t/lib/WalrusTest.pm):
#
#     server {                                    # the gateway
#         location / {
#             walrus_gateway;
#             walrus_gateway_key DIR/keys/gateway.key;
#             walrus_gateway_temp_path DIR/tmp/walrus;
#         }
#         # PUT /v1/blobs/ (the same route): refused uploads
#         location = /v1/blobs/ {
#             walrus_gateway;
#             walrus_gateway_key DIR/keys/gateway.key;
#             walrus_gateway_temp_path DIR/tmp/walrus;
#             walrus_gateway_max_blob_size 1k;
#             walrus_gateway_max_uploads 0;
#         }
#     }
#     server { location / { walrus_node; ... } }  # nodes 0..6

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use Digest::SHA qw(sha256);
use WalrusTest;

my $ROOT = $WalrusTest::ROOT;
my $doc = WalrusTest::read_file("$ROOT/docs/http-api.md");

# --- the table ---------------------------------------------------------------

my ($g15) = $doc =~ /^## G15\..*?\n(\| method \|.*?)\n\n/ms;
ok($g15, 'http-api.md has the table of G15') or BAIL_OUT('no G15 table');

my @rows;
for my $line (split /\n/, $g15 // '') {
    next if $line =~ /^\|\s*(method|-)/;
    my @c = $line =~ /^\| ([A-Z]+) \| `([^`]+)` \| (\d{3}) \| (?:`([A-Z_]+)`)? \| (\S+) \|$/
        or do { fail("a row in the table's layout: $line"); next };
    push @rows, { method => $c[0], path => $c[1], status => $c[2],
                  reason => $c[3] // '', by => $c[4] };
}
cmp_ok(scalar @rows, '>=', 100, scalar(@rows) . ' rows');

# every route of the gateway, as its dispatcher knows them, has rows
my @routes = (
    'PUT /v1/blobs', 'OPTIONS /v1/blobs',
    (map { ("GET $_", "HEAD $_") }
     '/v1/blobs/{id}', '/v1/blobs/{id}/byte-range', '/v1/blobs/{id}/status',
     '/v1alpha/blobs/{id}/stream', '/v1alpha/blobs/concat', '/v1/health',
     '/v1/audits', '/v1/audits/{X}/rounds/{r}/certificate',
     '/v1/audits/{X}/frauds/{r}', '/v1/api', '/status'),
    'OPTIONS /v1/blobs/{id}', 'POST /v1alpha/blobs/concat',
    'OPTIONS /v1alpha/blobs/concat', 'PUT /v1/quilts',
    (map { ("GET $_", "HEAD $_") }
     '/v1/blobs/by-quilt-id/{quiltId}/{identifier}',
     '/v1/blobs/by-quilt-patch-id/{patchId}', '/v1/quilts/{quiltId}/patches'),
);
my %in_table = map { ("$_->{method} " . route_of($_->{path})) => 1 } @rows;
is_deeply([ grep { !$in_table{$_} } @routes ], [],
          'every route of the gateway has rows');

# and G2's table names the same paths
my ($g2) = $doc =~ /^## G2\..*?\n(\|.*?)\n\n/ms;
my %g2;
for my $row (split /\n/, $g2 // '') {
    my ($methods, $paths) = $row =~ /^\| ([A-Z, ]+) \| (.*?) \|/ or next;
    for my $path ($paths =~ /`([^`]+)`/g) {
        $g2{"$_ " . route_of($path)} = 1 for split /, /, $methods;
    }
}
my %g15_success = map { ("$_->{method} " . route_of($_->{path})) => 1 }
                  grep { $_->{status} < 300 } @rows;
is_deeply([ sort grep { !$g15_success{$_} && !/^OPTIONS any/ } keys %g2 ],
          [], 'each operation of G2 has its success in G15');
is_deeply([ sort grep { !$g2{$_} && !/^OPTIONS / } keys %g15_success ], [],
          '... and each success of G15 is in G2');

# every reason of the gateway's errors (G9) has its rows
my ($g9) = $doc =~ /^## G9\..*?\n(\| reason \|.*?)\n\n/ms;
my %g9 = map { $_ => 1 } map { /`([A-Z_]+)`/g }
         map { (split /\|/)[1] // '' } split /\n/, $g9 // '';
my %reasons = map { $_->{reason} => 1 } @rows;
ok(keys %g9 > 20, scalar(keys %g9) . ' reasons in G9');
is_deeply([ sort grep { !$reasons{$_} } keys %g9 ], [],
          'each reason of G9 has rows in G15');

sub route_of {
    my ($path) = @_;
    $path =~ s/\?.*//;
    return $path;
}

# --- the gateway ---------------------------------------------------------------

my $t = WalrusTest->new(n => 7, segment_size => 4096);
$t->write_config(gateway => <<'EOF')->run;
        location / {
            walrus_gateway;
            walrus_gateway_key %%DIR%%/keys/gateway.key;
            walrus_gateway_temp_path %%DIR%%/tmp/walrus;
        }

        location = /v1/blobs/ {
            walrus_gateway;
            walrus_gateway_key %%DIR%%/keys/gateway.key;
            walrus_gateway_temp_path %%DIR%%/tmp/walrus;
            walrus_gateway_max_blob_size 1k;
            walrus_gateway_max_uploads 0;
        }
EOF
my $G = $t->gateway_url;
my $json = JSON::PP->new;

my $blob = WalrusTest::blob_of(10_000, 5);
my $id = $t->put_blob($blob);
my $id2 = $t->put_blob(WalrusTest::blob_of(300, 6));
ok($id && $id2, 'two blobs to ask about') or BAIL_OUT('no blobs');
my $unknown = WalrusTest::Proto::b64url(sha256('no such blob'));
my $concat_etag = $t->get("/v1alpha/blobs/concat?ids=$id,$id2")
                    ->{headers}{etag};

# the request that causes a row's status: (method, path, body, headers),
# or nothing when this test has none
sub request_for {
    my ($row) = @_;
    my ($m, $path, $status, $reason) = @$row{qw(method path status reason)};
    my (%h, $body);
    my $blob_id = $reason eq 'BLOB_NOT_FOUND' ? $unknown
                : $reason eq 'INVALID_BLOB_ID' ? 'not-a-blob-id' : $id;

    $path =~ s/\{id\}/$blob_id/;
    $path =~ s/\{X\}/$reason eq 'NO_SUCH_PATH' ? 99 : 0/e;
    $path =~ s/\{r\}/1/;
    $path =~ s/start=S&length=L/$reason eq 'INVALID_BYTE_RANGE'
                                 ? 'start=0&length=0' : 'start=0&length=10'/e;

    if ($path =~ m{^/v1alpha/blobs/concat}) {
        my @ids = $reason eq 'BLOB_NOT_FOUND' ? ($id, $unknown)
                : $reason eq 'INVALID_BLOB_ID' ? ($id, 'x')
                : $reason eq 'TOO_MANY_BLOBS' ? (($id) x 101)
                : ($id, $id2);
        if ($m eq 'POST') {
            $body = $reason eq 'INVALID_JSON' ? '{"ids": ['
                  : $reason eq 'INVALID_PARAMETER' ? '{}'
                  : $reason eq 'UNKNOWN_PARAMETER'
                    ? $json->encode({ ids => \@ids, x => 1 })
                  : $reason eq 'BODY_TOO_LARGE' ? ' ' x (17 * 1024)
                  : $json->encode({ ids => \@ids });
        } elsif ($reason eq 'INVALID_PARAMETER') {
            $path =~ s/\?.*//;
        } else {
            $path =~ s/ids=A,B/'ids=' . join(',', @ids)/e;
        }
        $h{'If-None-Match'} = $concat_etag if $status == 304;
    }

    if ($m eq 'PUT' && $path eq '/v1/blobs') {
        $body = WalrusTest::blob_of(2000, 9);
        $path .= $reason eq 'INVALID_PARAMETER' ? '?epochs=0'
               : $reason eq 'UNKNOWN_PARAMETER' ? '?color=1'
               : $reason eq 'INVALID_BLOB_PERSISTENCE'
                 ? '?deletable=true&permanent=true'
               : $reason eq 'UNSUPPORTED_ENCODING' ? '?encoding_type=RS2'
               : '';
        # the location with the limits
        $path = '/v1/blobs/' if $reason =~ /^(BLOB_TOO_LARGE|TOO_MANY_UPLOADS)$/;
        $body = 'small' if $reason eq 'TOO_MANY_UPLOADS';
    }

    $h{Range} = 'bytes=0-9' if $status == 206;
    $h{Range} = 'bytes=999999-' if $status == 416;
    $h{'If-Match'} = '"another"' if $status == 412;
    $h{'If-None-Match'} //= "\"$id\"" if $status == 304;
    if ($m eq 'OPTIONS') {
        $h{Origin} = 'http://example.com';
        $h{'Access-Control-Request-Method'} = 'GET';
    }

    # statuses only faults cause have no request here
    return if $status >= 500 || $reason =~ /^(OVERLOADED|BLOB_EXPIRED|BLOB_DELETED|INCONSISTENT_BLOB|CERTIFICATE_NOT_STORED)$/;
    return ($m, $path, $body, \%h);
}

for my $row (@rows) {
    my $name = "$row->{method} $row->{path}: $row->{status}"
               . ($row->{reason} ne '' ? " $row->{reason}" : '');

    if ($row->{by} ne 't/48') {
        if ($row->{by} eq 'none') {
            TODO: {
                local $TODO = 'no test causes it yet';
                fail("$name: shown by a test");
            }
            next;
        }
        my ($file) = glob("$ROOT/$row->{by}-*.t");
        my $text = $file ? WalrusTest::read_file($file) // '' : '';
        # a success is named by its path up to its first placeholder
        my $word = $row->{reason} ne '' ? $row->{reason}
                 : ($row->{path} =~ m{/(\w+)/\{r\}} ? $1
                    : ($row->{path} =~ m!^([^{]+)!)[0]);
        ok($text =~ /\Q$word\E/, "$name: shown by $row->{by} ($word)");
        next;
    }

    my ($m, $path, $body, $headers) = request_for($row);
    if (!defined $m) {
        fail("$name: a request to cause it");
        next;
    }
    my $res = $t->request($m, "$G$path", $body, $headers);
    my $got = $res->{status};
    my $reason = WalrusTest::reason($res);
    $got .= " $reason" if $reason ne '';
    my $want = $row->{status};
    $want .= " $row->{reason}"
        if $row->{reason} ne '' && $m ne 'HEAD';
    is($got, $want, $name);
    if ($row->{status} >= 400) {
        like($res->{headers}{'content-type'} // '', qr{^application/json},
             '... in JSON');
    }
}

$t->stop;

done_testing;
