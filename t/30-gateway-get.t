# Gateway read path: verified, hedged, streaming reconstruction with HTTP
# semantics (HEAD, ETag/304, Range, byte-range, types, CORS) and faults.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);
use WalrusTest;

my $P = 'WalrusTest::Proto';
my $json = JSON::PP->new;
my $S = 4096;
my $t = WalrusTest->new(n => 7, segment_size => $S);
my ($n, $f, $dir) = ($t->n, $t->f, $t->dir);
my $p = $n - 2 * $f;
my $gw = sub { $t->gateway_url . $_[0] };

# the gateway as a site would configure it (the harness adds the nodes,
# their upstreams and the internal location of the requests to nodes)
my $GATEWAY = <<'EOF';
        location /v1/ {
            walrus_gateway;
            walrus_gateway_key %%DIR%%/keys/gateway.key;
            walrus_gateway_temp_path %%DIR%%/tmp/walrus;
        }
EOF

# the nodes' keepers stay off: this test times the gateway's reads, and
# keepers asking the slow and hung stand-ins for nodes would add to it
my $NO_KEEPER = "    walrus_node_keeper off;\n";

$t->write_config(http => $NO_KEEPER, gateway => $GATEWAY)->run;

# sliver GETs the nodes saw: "uri range" lines
sub sliver_gets {
    my @lines;
    for my $i (0 .. $n - 1) {
        push @lines, map { join ' ', (split ' ')[1], /"([^"]*)"$/ }
                     grep { /^GET \S+\/slivers\// } $t->node_access($i);
    }
    return @lines;
}

# the sliver GETs since a list taken earlier
sub new_sliver_gets {
    my %seen;
    $seen{$_}++ for @{$_[0]};
    return grep { !$seen{$_}-- } sliver_gets();
}

# --- round trips --------------------------------------------------------

for my $len (0, 1, $S - 1, $S, $S + 1, 10 * $S + 123) {
    my $blob = blob_of($len, $len);
    my $id = $t->put_blob($blob);
    blob_is($t->get("/v1/blobs/$id"), $blob,
            "a blob of $len bytes comes back byte for byte");
}

my $blob = blob_of(10 * $S, 1);
my $id = $t->put_blob($blob);
my $res = $t->get("/v1/blobs/$id");
is($res->{headers}{etag}, "\"$id\"", 'ETag is the quoted blob ID');
# a deletable blob (the default) of one epoch: in its last epoch, and it
# may go any time (walrus_gateway_short_max_age, 60 s by default)
is($res->{headers}{'cache-control'}, 'public, max-age=60',
   'a deletable blob in its last epoch: short caching, not immutable');

# a permanent one for 5 epochs (of walrus_gateway_epoch_duration, a day
# by default): the 4 whole epochs after this one
my $perm = blob_of(300, 77);
my $pres = $t->request('PUT', $t->gateway_url
                              . '/v1/blobs?epochs=5&permanent=true', $perm);
my $pid = eval { JSON::PP->new->decode($pres->{content}) }
          ->{newlyCreated}{blobObject}{blobId} // '';
is($t->get("/v1/blobs/$pid")->{headers}{'cache-control'},
   'public, max-age=' . 4 * 86400 . ', immutable',
   'a permanent blob for 5 epochs: cached for the 4 epochs after this one');
is($res->{headers}{'accept-ranges'}, 'bytes', 'Accept-Ranges');
is($res->{headers}{'x-content-type-options'}, 'nosniff', 'nosniff');
is($res->{headers}{'access-control-allow-origin'}, '*', 'CORS origin');
like($res->{headers}{'access-control-expose-headers'}, qr/Content-Range/,
     'CORS exposes Content-Range');
like($res->{headers}{'access-control-expose-headers'}, qr/ETag/,
     '... and ETag');

# --- HEAD and 304 need no sliver ------------------------------------------

my @before = sliver_gets();
$res = $t->request('HEAD', $gw->("/v1/blobs/$id"));
is($res->{status}, 200, 'HEAD answers 200');
is($res->{headers}{'content-length'}, 10 * $S, '... with the blob length');
$res = $t->get("/v1/blobs/$id", { 'If-None-Match' => "\"$id\"" });
is($res->{status}, 304, 'If-None-Match with the ETag: 304');
$res = $t->get("/v1/blobs/$id", { 'If-None-Match' => "\"x\", W/\"$id\"" });
is($res->{status}, 304, '... also in a list, weak');
is(scalar new_sliver_gets(\@before), 0, 'HEAD and 304 fetch no sliver');

# --- ranges ---------------------------------------------------------------

for my $case (['bytes=0-99', 0, 100], ['bytes=4000-8200', 4000, 4201],
              ["bytes=@{[ 3 * $S - 10 ]}-", 3 * $S - 10, 7 * $S + 10],
              ['bytes=-5000', 10 * $S - 5000, 5000],
              ['bytes=40000-99999', 40000, 10 * $S - 40000])
{
    my ($range, $from, $len) = @$case;
    $res = $t->get("/v1/blobs/$id", { Range => $range });
    is($res->{status}, 206, "$range: 206");
    blob_is($res, substr($blob, $from, $len), '... the right bytes',
            status => 206);
    is($res->{headers}{'content-range'},
       "bytes $from-@{[ $from + $len - 1 ]}/@{[ 10 * $S ]}",
       '... Content-Range');
}

$res = $t->get("/v1/blobs/$id", { Range => 'bytes=999999-' });
is($res->{status}, 416, 'a range past the end: 416');
is($res->{headers}{'content-range'}, "bytes */@{[ 10 * $S ]}",
   '... with Content-Range */length');

$res = $t->get("/v1/blobs/$id",
               { Range => 'bytes=0-9', 'If-Range' => '"other"' });
blob_is($res, $blob, 'If-Range with another ETag: the whole blob');
$res = $t->get("/v1/blobs/$id",
               { Range => 'bytes=0-9', 'If-Range' => "\"$id\"" });
is($res->{status}, 206, 'If-Range with its ETag: the range');

# a range inside segment 6 of 10 fetches that segment only
@before = sliver_gets();
$res = $t->get("/v1/blobs/$id",
           { Range => "bytes=@{[ 6 * $S + 10 ]}-@{[ 6 * $S + 20 ]}" });
blob_is($res, substr($blob, 6 * $S + 10, 11), 'a range inside one segment',
        status => 206);
my @fetched = new_sliver_gets(\@before);
my $sym = 64 * int((($S + $p * ($n - $f) - 1) / ($p * ($n - $f)) + 63) / 64);
my $slice = ($n - $f) * $sym;
my $want = sprintf 'bytes=%d-%d', 6 * $slice, 7 * $slice - 1;
is(scalar @fetched, $p, "... fetches $p slivers")
    or diag(explain \@fetched);
ok(!grep({ !/ \Q$want\E$/ } @fetched), "... all of segment 6 ($want)")
    or diag(explain \@fetched);

$res = $t->get("/v1/blobs/$id/byte-range?start=100&length=50");
blob_is($res, substr($blob, 100, 50), 'byte-range endpoint');
$res = $t->get("/v1/blobs/$id/byte-range?start=100&length=0");
is(reason($res), 'INVALID_BYTE_RANGE', 'byte-range of length 0: 400');
$res = $t->get("/v1/blobs/$id/byte-range?start=40950&length=100");
is($res->{status}, 400, 'byte-range past the end: 400');

# --- types, names, status -----------------------------------------------------

my $png = "\x89PNG\r\n\x1a\n" . "\0\0\0\rIHDR" . ('x' x 300);
my $png_id = $t->put_blob($png);
$res = $t->get("/v1/blobs/$png_id?filename=my%20photo.png");
is($res->{headers}{'content-type'}, 'image/png', 'a PNG is image/png');
like($res->{headers}{'content-disposition'}, qr/^inline; filename="my photo.png"/,
     '?filename= gives Content-Disposition');
$res = $t->get("/v1/blobs/$png_id?download=true");
like($res->{headers}{'content-disposition'}, qr/^attachment/,
     '?download=true gives an attachment');
$res = $t->get("/v1/blobs/$png_id", { Range => 'bytes=0-3' });
is($res->{headers}{'content-type'}, 'image/png',
   'a 4-byte range of a PNG is still image/png');
my $html_id = $t->put_blob("<!DOCTYPE html><html><script>alert(1)</script>");
$res = $t->get("/v1/blobs/$html_id");
is($res->{headers}{'content-security-policy'}, 'sandbox',
   'HTML is served sandboxed');
my $text_id = $t->put_blob("hello, walrus\n");
is($t->get("/v1/blobs/$text_id")->{headers}{'content-type'},
   'text/plain; charset=utf-8', 'text is text/plain');

# HEAD and ranges after segment 0 have no first bytes: they get the type
# the gateway sniffed at the upload or at a read from segment 0
my $big_png = $png . blob_of(3 * $S, 9);
my $big_png_id = $t->put_blob($big_png);
my $late = { Range => "bytes=@{[ 2 * $S ]}-@{[ 2 * $S + 9 ]}" };
$res = $t->request('HEAD', $gw->("/v1/blobs/$big_png_id"));
is($res->{headers}{'content-type'}, 'image/png',
   'HEAD after the upload: the type sniffed at the upload');
$res = $t->get("/v1/blobs/$big_png_id", $late);
ok($res->{status} == 206
   && $res->{content} eq substr($big_png, 2 * $S, 10)
   && $res->{headers}{'content-type'} eq 'image/png',
   '... and a range in segment 2');
my $big_html = "<!DOCTYPE html><script>alert(1)</script>" . ('x' x (2 * $S));
my $big_html_id = $t->put_blob($big_html);
$res = $t->get("/v1/blobs/$big_html_id", $late);
ok($res->{headers}{'content-type'} =~ m{^text/html}
   && $res->{headers}{'content-security-policy'} eq 'sandbox',
   'a range in segment 2 of HTML is served sandboxed');

$t->restart;
$res = $t->request('HEAD', $gw->("/v1/blobs/$big_png_id"));
ok(!defined $res->{headers}{'content-type'},
   'a worker that has not seen the blob: HEAD without a type');
is($t->get("/v1/blobs/$big_png_id", $late)->{headers}{'content-type'},
   'application/octet-stream', '... and a range in segment 2 is bytes');
is($t->get("/v1/blobs/$big_png_id")->{headers}{'content-type'}, 'image/png',
   'a read of the whole PNG');
$res = $t->request('HEAD', $gw->("/v1/blobs/$big_png_id"));
is($res->{headers}{'content-type'}, 'image/png', '... then HEAD has its type');
is($t->get("/v1/blobs/$big_png_id", $late)->{headers}{'content-type'},
   'image/png', '... and so has a range in segment 2');

$res = $t->get("/v1/blobs/$id/status");
my $st = eval { $json->decode($res->{content})->{success}{data} } || {};
ok($st->{certified} && $st->{size} == 10 * $S && $st->{segments} == 10,
   'status: size, segments, certified');
ok(@{$st->{certificate}{signers} // []} >= $n - $f, '... and its signers');

# --- bad requests -------------------------------------------------------------

$res = $t->request('OPTIONS', $gw->("/v1/blobs/$id"));
is($res->{status}, 204, 'a CORS preflight: 204');
like($res->{headers}{'access-control-allow-headers'}, qr/Range/,
     '... allowing Range');
like($res->{headers}{'access-control-allow-methods'}, qr/GET/,
     '... and GET');
$res = $t->request('DELETE', $gw->("/v1/blobs/$id"));
is($res->{status}, 405, 'DELETE on a blob: 405');
is($res->{headers}{allow}, 'GET, HEAD, OPTIONS', '... with Allow');

$res = $t->get('/v1/blobs/not-a-blob-id');
is($res->{status}, 400, 'a malformed blob ID: 400');
is(reason($res), 'INVALID_BLOB_ID', '... INVALID_BLOB_ID');
my $unknown = $P->can('b64url')->("\x42" x 32);
$res = $t->get("/v1/blobs/$unknown");
is($res->{status}, 404, 'an unknown blob: 404');
is(reason($res), 'BLOB_NOT_FOUND', '... BLOB_NOT_FOUND');
is($res->{headers}{'access-control-allow-origin'}, '*',
   '... readable by browsers');
ok(!$res->{headers}{'cache-control'}, '... and not cached for ever');

# stored but never certified: metadata on the nodes, no certificate
my $raw = blob_of(3000, 99);
WalrusTest::write_file("$dir/raw.bin", $raw);
my $raw_id = `$WalrusTest::CTL -c $dir/committee.json encode $dir/raw.bin $dir/raw`;
chomp $raw_id;
$t->register($raw_id, length $raw);
$t->node_request($_, 'PUT', "/v1/blobs/$raw_id/metadata",
                 WalrusTest::read_file("$dir/raw/metadata")) for 0 .. $n - 1;
$res = $t->get("/v1/blobs/$raw_id");
is($res->{status}, 404, 'an uncertified blob is not served');

# --- a client that goes away mid-stream ---------------------------------------

my $big = blob_of(200 * $S, 5);
my $big_id = $t->put_blob($big);
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                              PeerPort => $t->gateway_port) or die;
print $s "GET /v1/blobs/$big_id HTTP/1.1\r\nHost: x\r\n\r\n";
my $got = '';
sysread $s, $got, 1000;
close $s;
like($got, qr{^HTTP/1.1 200}, 'a client reads the start of a big blob');
sleep 0.5;
blob_is($t->get("/v1/blobs/$big_id"), $big,
        '... goes away, and the next read is whole');

$t->stop;

# --- faults -------------------------------------------------------------------

# the node holding pair k of the blob
my $id_bytes = $P->can('unb64url')->($id);
sub node_of_pair { ($_[0] + WalrusTest::Proto::id_mod($id_bytes, $n)) % $n }

my @systematic = map { node_of_pair($_) } 0 .. $p - 1;

$t->write_config(http => $NO_KEEPER, gateway => $GATEWAY,
                 down => [@systematic[0 .. $f - 1]])->run;
blob_is($t->get("/v1/blobs/$id"), $blob,
        "$f nodes holding systematic slivers down: the right bytes");
$t->stop;

# f nodes with flipped bytes in their primary slivers
my %saved;
for my $node (@systematic[0 .. $f - 1]) {
    my $pair = ($node + $n - WalrusTest::Proto::id_mod($id_bytes, $n)) % $n;
    my $file = $t->store($node) . "/$id/$pair.primary";
    my $data = $saved{$file} = WalrusTest::read_file($file);
    substr($data, $_ * 100, 1) ^= "\x01" for 0 .. length($data) / 100 - 1;
    WalrusTest::write_file($file, $data);
}
$t->write_config(http => $NO_KEEPER, gateway => $GATEWAY)->run;
my $mark = $t->log_mark;
blob_is($t->get("/v1/blobs/$id"), $blob,
        "$f nodes serving corrupted slivers: the right bytes");
like($t->log_since($mark), qr/does not match the metadata/,
     '... and the bad slivers are logged');
$t->stop;
WalrusTest::write_file($_, $saved{$_}) for keys %saved;

# one node holding a systematic sliver answers after 3 s: the gateway
# asks another after the hedge delay (under valgrind, where everything
# is many times slower, after 6 s, and the reads must end a second
# before that)
my $late_node = $systematic[$f];
my $LATE = $ENV{WALRUS_VALGRIND} ? 6 : 3;
$t->write_config(down => [$late_node],
    main => 'load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;',
    http => $NO_KEEPER . <<"EOF", gateway => <<'EOF')->run;
    server {
        listen 127.0.0.1:%%NODE_PORT_$late_node%%;
        location / { echo_sleep $LATE; echo slow; }
    }
EOF
        location /v1/ {
            walrus_gateway;
            walrus_gateway_key %%DIR%%/keys/gateway.key;
            walrus_gateway_temp_path %%DIR%%/tmp/walrus;
            walrus_gateway_hedge_delay 200ms;
        }
EOF
my $start = time;
$res = $t->get("/v1/blobs/$id");
my $took = time - $start;
blob_is($res, $blob, "with a node $LATE s late: the right bytes");
ok($took < $LATE - 1, sprintf('... in %.2f s', $took));

# a client reusing its connection is not held up by the late node
my $ka = HTTP::Tiny->new(keep_alive => 1, timeout => 10);
$start = time;
my @ka = map { $ka->get($gw->("/v1/blobs/$id")) } 1 .. 3;
$took = time - $start;
ok(!grep({ $_->{content} ne $blob } @ka), 'three reads on one connection');
ok($took < $LATE - 1,
   sprintf('... in %.2f s: late requests are cancelled', $took));
sleep 3;
$t->stop;

# f + 1 nodes down still leave p slivers; n - p + 1 down leave too few
$t->write_config(http => $NO_KEEPER, gateway => $GATEWAY, down => [0 .. $f])->run;
blob_is($t->get("/v1/blobs/$id"), $blob,
        'f + 1 nodes down: p slivers are left, the right bytes');
$t->stop;

$t->write_config(http => $NO_KEEPER, gateway => $GATEWAY, down => [0 .. $n - $p])->run;
$res = $t->get("/v1/blobs/$id");
is($res->{status}, 503, 'fewer than p nodes up: 503');
ok(!$res->{headers}{'cache-control'} && !$res->{headers}{etag},
   '... with no ETag or caching headers');
ok($res->{headers}{'retry-after'}, '... with Retry-After');
$t->stop;

# nodes that never answer: 503 after walrus_gateway_read_timeout
my $hung = join '', map { <<"EOF" } 0 .. $n - $p;
    server {
        listen 127.0.0.1:%%NODE_PORT_$_%%;
        location / { echo_sleep 20; echo late; }
    }
EOF
$t->write_config(down => [0 .. $n - $p],
    main => 'load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;',
    http => $NO_KEEPER . $hung, gateway => <<'EOF')->run;
        location /v1/ {
            walrus_gateway;
            walrus_gateway_key %%DIR%%/keys/gateway.key;
            walrus_gateway_temp_path %%DIR%%/tmp/walrus;
            walrus_gateway_read_timeout 1s;
        }
EOF
$start = time;
$res = $t->get("/v1/blobs/$id");
$took = time - $start;
is($res->{status}, 503, 'too few nodes answering in time: 503');
ok($took < 2.5, sprintf('... after the 1 s read timeout (%.2f s)', $took));
$t->stop;

# --- an inconsistently encoded blob ---------------------------------------

$t->write_config(http => $NO_KEEPER, gateway => $GATEWAY)->run;
my $bad = blob_of(3000, 7);
WalrusTest::write_file("$dir/bad.bin", $bad);
my $bad_id = `$WalrusTest::ROOT/build/tools/bad_parity $n $S $dir/bad.bin $dir/bad`;
chomp $bad_id;
my $bad_bytes = $P->can('unb64url')->($bad_id);
is($t->store_directly($bad_id, length $bad, "$dir/bad"), $n,
   'every node accepts the dishonest slivers');
$t->stop;

# the node of systematic pair 0 down: the reader decodes with pair p
my $down = (0 + WalrusTest::Proto::id_mod($bad_bytes, $n)) % $n;
$t->write_config(http => $NO_KEEPER, gateway => $GATEWAY, down => [$down])->run;
$res = $t->get("/v1/blobs/$bad_id");
is($res->{status}, 422, 'an inconsistent blob: 422');
is(reason($res), 'INCONSISTENT_BLOB', '... INCONSISTENT_BLOB');
unlike($res->{content}, qr/\Q@{[ substr($bad, 0, 20) ]}\E/, '... and no blob bytes');
$t->stop;

done_testing();
