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
use File::Path qw(remove_tree);
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

# --- reads ----------------------------------------------------------------

my $bad = 0;
for my $f (@files) {
    my ($name, $data) = @$f;
    (my $path = $name) =~ s/([^A-Za-z0-9._~\/-])/sprintf '%%%02X', ord $1/ge;
    my $r1 = $t->get("/v1/blobs/by-quilt-id/$qid/$path");
    my $r2 = $t->get("/v1/blobs/by-quilt-patch-id/$pid{$name}");
    $bad++, diag("$name: $r1->{status} $r2->{status} "
                 . substr($r1->{content}, 0, 200))
        unless $r1->{status} == 200 && $r1->{content} eq $data
               && $r2->{status} == 200 && $r2->{content} eq $data
               && ($r1->{headers}{'x-quilt-patch-identifier'} // '') eq $name
               && ($r1->{headers}{etag} // '') eq "\"$pid{$name}\""
               && ($r2->{headers}{etag} // '') eq "\"$pid{$name}\"";
}
is($bad, 0, 'every file by identifier and by patch ID: its bytes, '
            . 'X-Quilt-Patch-Identifier, ETag = quoted patch ID');

my $name = 'file-050.bin';
my $data = (grep { $_->[0] eq $name } @files)[0][1];
my $url = "/v1/blobs/by-quilt-id/$qid/$name";
my $etag = "\"$pid{$name}\"";

$res = $t->get($url);
is($res->{headers}{'content-type'}, 'application/octet-stream',
   'no type given: sniffed as blobs are');
is($res->{headers}{'x-content-type-options'}, 'nosniff', '... nosniff');
is($res->{headers}{'accept-ranges'}, 'bytes', '... Accept-Ranges');
is($res->{headers}{'access-control-allow-origin'}, '*', '... CORS');
like($res->{headers}{'access-control-expose-headers'} // '',
     qr/X-Quilt-Patch-Identifier/, '... exposing the identifier header');
like($res->{headers}{'cache-control'} // '', qr/max-age/,
     '... cached as the quilt\'s blob is');
is($t->get("/v1/blobs/by-quilt-id/$qid/file-000.txt")
   ->{headers}{'content-type'}, 'text/plain',
   'the part\'s Content-Type kept');
is($t->get("/v1/blobs/by-quilt-id/$qid/file-001.bin")
   ->{headers}{'content-type'}, 'image/png',
   'a content-type tag wins over sniffing');

WalrusTest::blob_is($t->get($url, { Range => 'bytes=10-19' }),
                    substr($data, 10, 10), 'Range within the file: 206',
                    status => 206);
is($t->get($url, { Range => 'bytes=10-19' })->{headers}{'content-range'},
   'bytes 10-19/' . length $data, '... Content-Range of the file');
WalrusTest::blob_is($t->get($url, { Range => 'bytes=-5' }),
                    substr($data, -5), 'a suffix range', status => 206);
$res = $t->get($url, { Range => 'bytes=100000-' });
error_is($res, 416, 'RANGE_NOT_SATISFIABLE', 'a range past the file');
is($res->{headers}{'content-range'}, 'bytes */' . length $data,
   '... Content-Range: */length');
WalrusTest::blob_is($t->get($url, { Range => 'bytes=0-3',
                                    'If-Range' => '"other"' }),
                    $data, 'If-Range of another ETag: the whole file');

$res = $t->get($url, { 'If-None-Match' => $etag });
is($res->{status}, 304, 'If-None-Match of its ETag: 304');
is($res->{headers}{etag}, $etag, '... with the ETag');
is($res->{content} // '', '', '... and no body');
is($t->get($url, { 'If-None-Match' => "\"$pid{'file-052.bin'}\"" })
   ->{status}, 200, 'another file\'s ETag: 200');
WalrusTest::blob_is($t->get($url, { 'If-Match' => $etag }), $data,
                    'If-Match of its ETag: 200');
error_is($t->get($url, { 'If-Match' => "\"$qid\"" }), 412,
         'PRECONDITION_FAILED', 'If-Match of the quilt\'s ETag');

$res = $t->request('HEAD', $t->gateway_url . $url);
is($res->{status}, 200, 'HEAD: 200');
is($res->{headers}{'content-length'}, length $data,
   '... Content-Length of the file');
is($res->{headers}{'x-quilt-patch-identifier'}, $name, '... identifier');
is($res->{content} // '', '', '... no body');
$res = $t->request('HEAD', $t->gateway_url
                           . "/v1/blobs/by-quilt-patch-id/$pid{$name}");
is($res->{headers}{etag}, $etag, 'HEAD by patch ID: the same ETag');

$res = $t->request('OPTIONS', $t->gateway_url . $url,
                   undef, { Origin => 'http://a.example',
                            'Access-Control-Request-Method' => 'GET' });
is($res->{status}, 204, 'CORS preflight of a file: 204');

# the patch list
$res = $t->get("/v1/quilts/$qid/patches");
is($res->{status}, 200, 'GET /v1/quilts/{id}/patches: 200');
is($res->{headers}{'content-type'}, 'application/json', '... JSON');
my $list = eval { JSON::PP->new->decode($res->{content}) } || [];
is(scalar @$list, scalar @files, '... one entry a file');
is_deeply([map { $_->{patch_id} } @$list],
          [map { $_->{quiltPatchId} } @$stored],
          '... with the patch IDs of the upload');
is_deeply($list->[1]{tags}, { 'content-type' => 'image/png',
                              colour => 'blue' }, '... and the tags');
is_deeply($list->[3]{tags}, {}, '... an empty object when none');
is($t->request('HEAD', $t->gateway_url . "/v1/quilts/$qid/patches")
   ->{status}, 200, 'HEAD of the list: 200');

# a file's read touches only the segments of the index and of the file
# the sliver GETs the nodes saw after the first $skip->[i] of node i's
sub sliver_gets {
    my ($skip) = @_;
    my @lines;
    for my $i (0 .. $n - 1) {
        my @all = $t->node_access($i);
        push @lines, map { join ' ', (split ' ')[1], /"([^"]*)"$/ }
                     grep { /^GET \S+\/slivers\// }
                     @all[($skip ? $skip->[$i] : 0) .. $#all];
    }
    return @lines;
}

my $offset = $index_len;
for my $f (@files) {
    last if $f->[0] eq $name;
    $offset += length $f->[1];
}
my %want = map { $_ => 1 } 0 .. int(($index_len - 1) / $S),
                           int($offset / $S)
                           .. int(($offset + length($data) - 1) / $S);
my $nseg = int(($index_len + $total + $S - 1) / $S);

my $before = [map { scalar(my @l = $t->node_access($_)) } 0 .. $n - 1];
WalrusTest::blob_is($t->get("/v1/blobs/by-quilt-patch-id/$pid{$name}"),
                    $data, 'a file read by patch ID');
my @new = sliver_gets($before);
my %segs;
for (@new) {
    my ($a, $b) = /bytes=(\d+)-(\d+)/ or next;
    $segs{int($a / ($b - $a + 1))}++;
}
ok(@new > 0 && !grep({ !$want{$_} } keys %segs),
   "... asked the nodes for segments " . join(',', sort { $a <=> $b }
                                                  keys %segs)
   . " of $nseg: those of the index and the file only")
    or diag(join "\n", @new);
ok($nseg > 2 * keys %want, '... a small part of the quilt\'s segments');

# an index longer than the first read (4 KiB): the rest is read after
my @long = map { [('n' x 120) . sprintf('%03d', $_), "data of $_\n"] }
               0 .. 149;
push @long, ['page.html', '<html><body>hi</body></html>', 'text/html'];
$res = put_quilt(multipart(@long));
my $lid = decode($res)->{blobStoreResult}{newlyCreated}{blobObject}{blobId};
ok($lid, 'a quilt of 151 files with long names');
$res = $t->get("/v1/blobs/$lid", { Range => 'bytes=0-15' });
my $long_index = (unpack('a6 C C V V', $res->{content}))[4];
ok($long_index > 4096, "... its index takes $long_index bytes");
WalrusTest::blob_is($t->get("/v1/blobs/by-quilt-id/$lid/" . $long[149][0]),
                    "data of 149\n", '... its last file read back');
$list = eval { JSON::PP->new->decode(
                   $t->get("/v1/quilts/$lid/patches")->{content}) } || [];
is(scalar @$list, 151, '... and listed');
$res = $t->get("/v1/blobs/by-quilt-id/$lid/page.html");
is($res->{headers}{'content-type'}, 'text/html', 'an HTML file: its type');
is($res->{headers}{'content-security-policy'}, 'sandbox',
   '... in the CSP sandbox, as blobs');

# --- read errors ----------------------------------------------------------

error_is($t->get("/v1/blobs/by-quilt-id/$qid/nope"), 404,
         'QUILT_PATCH_NOT_FOUND', 'an unknown identifier');
error_is($t->get("/v1/blobs/by-quilt-id/$qid/file-000.tx"), 404,
         'QUILT_PATCH_NOT_FOUND', 'a prefix of an identifier');
my $raw = WalrusTest::Proto::unb64url($pid{$name});
substr($raw, 33, 2, pack('v', 500));
error_is($t->get('/v1/blobs/by-quilt-patch-id/' . WalrusTest::Proto::b64url($raw)),
         404, 'QUILT_PATCH_NOT_FOUND', 'a patch number past the files');
error_is($t->get('/v1/blobs/by-quilt-patch-id/abc'), 400,
         'INVALID_QUILT_PATCH_ID', 'a malformed patch ID');
error_is($t->get("/v1/blobs/by-quilt-patch-id/$qid"), 400,
         'INVALID_QUILT_PATCH_ID', 'a blob ID for a patch ID');
substr($raw, 32, 1, "\x02");
error_is($t->get('/v1/blobs/by-quilt-patch-id/' . WalrusTest::Proto::b64url($raw)),
         400, 'INVALID_QUILT_PATCH_ID', 'another patch ID version');
error_is($t->get('/v1/blobs/by-quilt-id/abc/x'), 400, 'INVALID_BLOB_ID',
         'a malformed quilt ID');
error_is($t->get('/v1/quilts/abc/patches'), 400, 'INVALID_BLOB_ID',
         'a malformed quilt ID for the list');

my $unknown = WalrusTest::Proto::b64url('u' x 32);
error_is($t->get("/v1/blobs/by-quilt-id/$unknown/a"), 404, 'BLOB_NOT_FOUND',
         'an unknown quilt: the blob\'s 404');
error_is($t->get("/v1/quilts/$unknown/patches"), 404, 'BLOB_NOT_FOUND',
         '... for the list too');

my $plain = $t->put_blob('just a blob, not a quilt' x 10);
error_is($t->get("/v1/blobs/by-quilt-id/$plain/a"), 422, 'NOT_A_QUILT',
         'a blob that is not a quilt');
error_is($t->get("/v1/quilts/$plain/patches"), 422, 'NOT_A_QUILT',
         '... for the list too');
# a blob with a quilt's header but a forged index
my $forged = $t->put_blob(pack('a6 C C V V', 'WQUILT', 1, 0, 1, 40)
                          . "\0" x 100);
error_is($t->get("/v1/quilts/$forged/patches"), 422, 'NOT_A_QUILT',
         'a quilt header over a broken index');
my $empty = $t->put_blob('');
error_is($t->get("/v1/blobs/by-quilt-id/$empty/a"), 422, 'NOT_A_QUILT',
         'an empty blob');
$res = $t->request('PUT', $t->gateway_url . $url, 'x');
is($res->{status}, 405, 'PUT on a file: 405');

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
# an index over 1 MiB: 32 files with 32 tags of the largest size each
my @big_tags = map {
    my $f = $_;
    { identifier => "f$f",
      tags => { map { sprintf('%03d', $_) . ('k' x 125) => 'v' x 1024 }
                0 .. 31 } }
} 0 .. 31;
error_is(put_quilt(multipart((map { ["f$_", 'x'] } 0 .. 31),
                             ['_metadata', $json->encode(\@big_tags)])),
         413, 'QUILT_TOO_LARGE', 'an index of more than 1 MiB');
my $mres = $t->request('POST', $t->gateway_url . '/v1/quilts', $one);
is($mres->{status}, 405, 'POST /v1/quilts: 405');
is($mres->{headers}{allow}, 'PUT, OPTIONS', '... Allow: PUT, OPTIONS');

# --- walrusctl quilt: the same parts give the same quilt ID offline ------

my $dir = $t->dir;
my $ctl = "$WalrusTest::ROOT/build/walrusctl";
my $tags = '[{"identifier":"b.bin","tags":{"k":"v"}}]';
WalrusTest::write_file("$dir/a.txt", 'hello');
WalrusTest::write_file("$dir/b.bin", WalrusTest::blob_of(3000, 9));
WalrusTest::write_file("$dir/tags.json", $tags);
$res = put_quilt(multipart(['a.txt', 'hello', 'text/plain'],
                           ['b.bin', WalrusTest::blob_of(3000, 9)],
                           ['_metadata', $tags]));
my $cid = decode($res)->{blobStoreResult}{newlyCreated}{blobObject}{blobId};
my ($rc, $out, $err) = WalrusTest::capture({}, $dir, $ctl, 'quilt',
                                           "$dir/q.bin",
                                           "a.txt=$dir/a.txt;type=text/plain",
                                           "b.bin=$dir/b.bin",
                                           "_metadata=$dir/tags.json");
is($rc, 0, 'walrusctl quilt writes the quilt') or diag($err);
($rc, $out, $err) = WalrusTest::capture({}, $dir, $ctl, '-c', $t->committee,
                                        'blob-id', "$dir/q.bin");
chomp $out;
is($out, $cid, '... whose blob ID is the quilt ID the gateway answered');
($rc, $out, $err) = WalrusTest::capture({}, $dir, $ctl, 'quilt', "$dir/r.bin",
                                        "a=$dir/a.txt", "a=$dir/b.bin");
isnt($rc, 0, '... and refuses duplicate identifiers');
like($err, qr/duplicate identifier/, '... saying so');

# --- the quilt's blob read fails: its error, not a broken answer ---------

$res = put_quilt(multipart(['lost.txt', 'x' x 3000]));
my $lost = decode($res)->{blobStoreResult}{newlyCreated}{blobObject}{blobId};
ok(WalrusTest::eventually(sub {
       !grep { !-e $t->store($_) . "/$lost/certificate" } 0 .. $n - 1 }),
   'another quilt, held by every node');
# n - f + 1 stores lose it: too few slivers are left, and too few
# holders to heal it
# (a keeper may be writing into one meanwhile: what it left is no matter)
remove_tree($t->store($_) . "/$lost", { error => \my $ignored })
    for 0 .. $n - 2;
my $blob_res = $t->get("/v1/blobs/$lost");
$res = $t->get("/v1/blobs/by-quilt-id/$lost/lost.txt");
is("$res->{status} " . WalrusTest::reason($res),
   "$blob_res->{status} " . WalrusTest::reason($blob_res),
   "a quilt whose slivers are lost: the blob read's $blob_res->{status} "
   . WalrusTest::reason($blob_res));
ok($res->{status} >= 500, '... a server error');

$t->stop;

done_testing();
