# Quilts: PUT /v1/quilts (multipart/form-data, one file a part, the
# _metadata part's tags) builds our quilt layout (docs/protocol.md 20)
# and stores it as a blob; its files are read by identifier or patch ID
# with a blob's HTTP semantics, fetching only the segments that hold the
# index and the file; /v1/quilts/{id}/patches lists them.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use WalrusTest;

my $json = JSON::PP->new->canonical;
my $S = 1024;    # small segments: a quilt spans many
my $t = WalrusTest->new(n => 4, segment_size => $S);
my $n = $t->n;

my $GATEWAY = <<'EOF';
        location /v1/ {
            walrus_gateway;
            walrus_gateway_key %%DIR%%/keys/gateway.key;
            walrus_gateway_temp_path %%DIR%%/tmp/walrus;
        }
EOF

$t->write_config(gateway => $GATEWAY)->run;

my $B = 'quiltBoundary7';

# a multipart/form-data body of [name, data, type] parts
sub multipart {
    my (@parts) = @_;
    my $body = "preamble\r\n";
    for my $p (@parts) {
        my ($name, $data, $type) = @$p;
        $body .= "--$B\r\nContent-Disposition: form-data; name=\"$name\"; "
               . "filename=\"$name\"\r\n";
        $body .= "Content-Type: $type\r\n" if defined $type;
        $body .= "\r\n$data\r\n";
    }
    return $body . "--$B--\r\n";
}

sub put_quilt {
    my ($body, $query, $type) = @_;
    return $t->request('PUT', $t->gateway_url . '/v1/quilts' . ($query // ''),
                       $body,
                       { 'Content-Type' => $type
                                           // "multipart/form-data; boundary=$B" });
}

sub decode { eval { $json->decode($_[0]{content}) } || {} }

sub error_is {
    my ($res, $status, $reason, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    ok($res->{status} == $status && WalrusTest::reason($res) eq $reason
       && ($res->{headers}{'content-type'} // '') eq 'application/json',
       "$name: $status $reason")
        or diag("status $res->{status}: " . substr($res->{content}, 0, 300));
}

# --- PUT ------------------------------------------------------------------

my @files = map {
    my $i = $_;
    [sprintf("file-%03d.%s", $i, $i % 3 == 0 ? 'txt' : 'bin'),
     WalrusTest::blob_of(20 + ($i * 53) % 400, $i),
     $i % 3 == 0 ? 'text/plain' : undef]
} 0 .. 99;
# one empty file, one with a name of several UTF-8 bytes
push @files, ['empty', '', undef], ["d\x{c3}\x{a9}j\x{c3}\x{a0}/vu.json", '{"a":1}',
                                    'application/json'];

my $meta = [{ identifier => 'file-001.bin',
              tags => { 'content-type' => 'image/png', colour => 'blue' } },
            { identifier => 'file-002.bin', tags => { k => 'v' } }];

my $res = put_quilt(multipart(@files, ['_metadata', $json->encode($meta),
                                       'application/json']),
                    '?epochs=2&quilt_version=v1');
my $d = decode($res);
is($res->{status}, 200, 'PUT /v1/quilts of 102 files: 200')
    or diag(substr($res->{content}, 0, 500));
my $qid = $d->{blobStoreResult}{newlyCreated}{blobObject}{blobId};
like($qid // '', qr/^[A-Za-z0-9_-]{43}$/, 'blobStoreResult is a blob\'s');
is($d->{blobStoreResult}{newlyCreated}{blobObject}{storage}{endEpoch}
   - $d->{blobStoreResult}{newlyCreated}{blobObject}{storage}{startEpoch},
   2, '... stored for the epochs asked');
my $stored = $d->{storedQuiltBlobs} // [];
is(scalar @$stored, scalar @files, 'storedQuiltBlobs: one a file');
is_deeply([map { $_->{identifier} } @$stored],
          [map { $_->[0] } @files],
          '... with the identifiers, in upload order');
my %pid = map { $_->{identifier} => $_->{quiltPatchId} } @$stored;
ok(!grep({ !/^[A-Za-z0-9_-]{47}$/ } values %pid),
   '... and patch IDs of 47 characters');
is(scalar(keys %pid), scalar @files, '... all different');

# the same upload again: the same quilt, already certified
$res = put_quilt(multipart(@files, ['_metadata', $json->encode($meta),
                                    'application/json']), '?quilt_version=1');
$d = decode($res);
is($d->{blobStoreResult}{alreadyCertified}{blobId} // '', $qid,
   'the same files again: the same quilt ID, alreadyCertified');
is_deeply([map { $_->{quiltPatchId} } @{$d->{storedQuiltBlobs} // []}],
          [map { $_->{quiltPatchId} } @$stored], '... and patch IDs');

# the quilt is a blob: its first bytes are the layout's header
$res = $t->get("/v1/blobs/$qid", { Range => 'bytes=0-15' });
is($res->{status}, 206, 'the quilt reads as a blob');
my ($magic, $ver, $res0, $count, $index_len) =
    unpack('a6 C C V V', $res->{content});
is("$magic $ver $res0 $count", 'WQUILT 1 0 ' . scalar @files,
   '... starting with the quilt header');
my $total = 0;
$total += length $_->[1] for @files;
$res = $t->request('HEAD', $t->gateway_url . "/v1/blobs/$qid");
is($res->{headers}{'content-length'}, $index_len + $total,
   '... the index then the files');

# --- PUT errors -----------------------------------------------------------

my $one = multipart(['a', 'x']);

error_is(put_quilt($one, '?quilt_version=v2'), 400,
         'UNSUPPORTED_QUILT_VERSION', 'quilt_version=v2');
error_is(put_quilt($one, '?quilt_versions=1'), 400, 'UNKNOWN_PARAMETER',
         'a misspelt parameter');
error_is($t->request('PUT', $t->gateway_url . '/v1/blobs?quilt_version=1',
                     'abc'), 400, 'UNKNOWN_PARAMETER',
         'quilt_version on PUT /v1/blobs');
error_is(put_quilt($one, '?encoding_type=RS2'), 400, 'UNSUPPORTED_ENCODING',
         'another encoding');
error_is(put_quilt($one, '', 'application/octet-stream'), 400,
         'INVALID_MULTIPART', 'not multipart');
error_is(put_quilt($one, '', 'multipart/form-data'), 400,
         'INVALID_MULTIPART', 'no boundary');
error_is(put_quilt(substr($one, 0, length($one) - 10)), 400,
         'INVALID_MULTIPART', 'a truncated body');
error_is(put_quilt("--$B\r\nContent-Type: text/plain\r\n\r\nx\r\n--$B--"),
         400, 'INVALID_MULTIPART', 'a part without a name');
error_is(put_quilt("--$B\r\nContent-Disposition: form-data; name=a\r\n"
                   . "x\r\n--$B--"), 400, 'INVALID_MULTIPART',
         'headers without their empty line');
error_is(put_quilt(multipart(['a', 'x'], ['a', 'y'])), 400, 'INVALID_QUILT',
         'duplicate identifiers');
error_is(put_quilt(multipart(['_metadata', '[]'])), 400, 'INVALID_QUILT',
         'no file');
error_is(put_quilt(multipart(['a', 'x'], ['_metadata', '[{"identifier":'
                                          . '"b","tags":{}}]'])),
         400, 'INVALID_QUILT', 'tags of an unknown identifier');
error_is(put_quilt(multipart(['a', 'x'], ['_metadata', 'not json'])),
         400, 'INVALID_QUILT', '_metadata not JSON');
error_is(put_quilt(multipart(['a' x 256, 'x'])), 400, 'INVALID_QUILT',
         'an identifier of 256 bytes');
error_is(put_quilt(multipart(["a\x{ff}", 'x'])), 400, 'INVALID_QUILT',
         'an identifier not UTF-8');
error_is(put_quilt(multipart(map { ["f$_", 'x'] } 0 .. 1000)), 413,
         'TOO_MANY_PATCHES', '1001 files');
my $mres = $t->request('POST', $t->gateway_url . '/v1/quilts', $one);
is($mres->{status}, 405, 'POST /v1/quilts: 405');
is($mres->{headers}{allow}, 'PUT, OPTIONS', '... Allow: PUT, OPTIONS');

done_testing();
