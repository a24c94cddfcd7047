# Publisher authentication: uploads with a JWT (Authorization: Bearer),
# each claim accepted and refused, wrong keys and algorithms ("none"),
# malformed tokens, the token IDs used once in a worker, across two
# gateways sharing one Redis, with Redis down or hung, and the
# conf.d/public-gateway.conf recipe limiting uploads and connections
# with 429 JSON.
# Tokens are made here: HMAC with Digest::SHA, signatures with openssl.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use MIME::Base64 qw(encode_base64url);
use Digest::SHA qw(hmac_sha256);
use Time::HiRes qw(time sleep);
use IO::Socket::INET;
use WalrusTest;

my $t = WalrusTest->new(n => 4, segment_size => 4096);
my $dir = $t->dir;
my $JSON = JSON::PP->new->canonical;
my $SECRET = 'a publisher secret, longer than 32 bytes';
WalrusTest::write_file("$dir/jwt.secret", "$SECRET\n");

# keys of the signing algorithms, made with openssl
sub openssl {
    my @cmd = @_;
    system('openssl', @cmd) == 0 or die "openssl @cmd failed";
}
openssl('genpkey', '-quiet', '-algorithm', 'ed25519', '-out', "$dir/ed.key");
openssl('pkey', '-in', "$dir/ed.key", '-pubout', '-out', "$dir/ed.pub");
openssl('genpkey', '-quiet', '-algorithm', 'ed25519', '-out',
        "$dir/ed-other.key");
openssl('genpkey', '-quiet', '-algorithm', 'RSA', '-pkeyopt',
        'rsa_keygen_bits:2048', '-out', "$dir/rs.key");
openssl('pkey', '-in', "$dir/rs.key", '-pubout', '-out', "$dir/rs.pub");
openssl('genpkey', '-quiet', '-algorithm', 'EC', '-pkeyopt',
        'ec_paramgen_curve:P-256', '-out', "$dir/es.key");
openssl('pkey', '-in', "$dir/es.key", '-pubout', '-out', "$dir/es.pub");

my $seq = 0;

# claims of a fresh token: exp in 5 minutes, a jti never used
sub claims { return { exp => int(time) + 300, jti => 'jti-' . $$ . '-' . ++$seq,
                      @_ } }

# header.payload of a token, and the token with signature bytes
sub signing_input {
    my ($header, $claims) = @_;
    return encode_base64url(ref $header ? $JSON->encode($header) : $header)
        . '.' . encode_base64url(ref $claims ? $JSON->encode($claims)
                                             : $claims);
}

sub hs256 {
    my ($claims, %o) = @_;
    my $input = signing_input({ alg => $o{alg} // 'HS256', typ => 'JWT' },
                              $claims);
    return "$input." . encode_base64url(hmac_sha256($input,
                                                    $o{secret} // $SECRET));
}

# ECDSA signatures come from openssl in DER: JWS wants r || s
sub der_to_raw {
    my ($der, $size) = @_;
    my ($rlen) = unpack 'x3 C', $der;
    my $r = substr $der, 4, $rlen;
    my $slen = unpack 'C', substr $der, 5 + $rlen, 1;
    my $s = substr $der, 6 + $rlen, $slen;
    s/^\0+// for $r, $s;
    return ("\0" x ($size - length $r)) . $r . ("\0" x ($size - length $s))
        . $s;
}

# a token signed with openssl: EdDSA, RS256 or ES256
sub signed {
    my ($alg, $key, $claims) = @_;
    my $input = signing_input({ alg => $alg, typ => 'JWT' }, $claims);
    WalrusTest::write_file("$dir/input", $input);
    if ($alg eq 'EdDSA') {
        openssl('pkeyutl', '-sign', '-inkey', $key, '-rawin', '-in',
                "$dir/input", '-out', "$dir/sig");
    } else {
        openssl('dgst', '-sha256', '-sign', $key, '-out', "$dir/sig",
                "$dir/input");
    }
    my $sig = WalrusTest::read_file("$dir/sig");
    $sig = der_to_raw($sig, 32) if $alg eq 'ES256';
    return "$input." . encode_base64url($sig);
}

# PUT of $body with a token (undef: no header): (status, JSON, response)
sub put {
    my ($url, $body, $token, $query) = @_;
    my %h;
    $h{Authorization} = "Bearer $token" if defined $token;
    my $res = $t->request('PUT', "$url/v1/blobs" . ($query // ''), $body,
                          \%h);
    my $d = eval { JSON::PP->new->decode($res->{content}) } || {};
    return ($res->{status}, $d, $res);
}

# the reason of a decoded error answer
sub why { my ($d) = @_; return $d->{error}{details}[0]{reason} // '' }

sub id_of {
    my ($d) = @_;
    return $d->{newlyCreated}{blobObject}{blobId}
        // $d->{alreadyCertified}{blobId};
}

# an upload refused with $status and $reason, in the error model
sub refused {
    my ($url, $token, $status, $reason, $what, %o) = @_;
    my ($code, $d, $res) = put($url, $o{body} // blob_of(100, ++$seq),
                               $token, $o{query});
    my $ok = is($code, $status, "$what: $status")
        && is(why($d), $reason, "... $reason")
        && is($d->{error}{code}, $status, '... in the error model');
    diag($res->{content}) unless $ok;
    return $res;
}

sub accepted {
    my ($url, $token, $what, %o) = @_;
    my $body = $o{body} // blob_of(100, ++$seq);
    my ($code, $d, $res) = put($url, $body, $token, $o{query});
    is($code, 200, "$what: stored") or diag($res->{content});
    return id_of($d);
}

# --- HS256, token IDs in the worker -----------------------------------

my $GATEWAY = <<'EOF';
        location / {
            walrus_gateway;
            walrus_gateway_key %%DIR%%/keys/gateway.key;
            walrus_gateway_temp_path %%DIR%%/tmp/walrus;
            walrus_gateway_jwt on;
            walrus_gateway_jwt_key HS256 %%DIR%%/jwt.secret;
            walrus_gateway_jwt_leeway 60s;
            walrus_gateway_jwt_max_lifetime 1h;
        }
EOF

$t->write_config(gateway => $GATEWAY)->run;
my $gw = $t->gateway_url;
my $now = int(time);

my $res = refused($gw, undef, 401, 'MISSING_TOKEN', 'no Authorization');
is($res->{headers}{'www-authenticate'}, 'Bearer realm="walrus"',
   '... WWW-Authenticate: Bearer');
my ($code, $d) = (0, {});
$res = $t->request('PUT', "$gw/v1/blobs", 'x',
                   { Authorization => 'Basic dXNlcjpwYXNz' });
is($res->{status}, 401, 'Basic credentials: 401');
$res = $t->request('OPTIONS', "$gw/v1/blobs", undef,
                   { Origin => 'https://example.com',
                     'Access-Control-Request-Method' => 'PUT' });
like($res->{headers}{'access-control-allow-headers'} // '', qr/Authorization/,
     'CORS preflight lets pages send Authorization');

my $token = hs256(claims());
my $blob = blob_of(1000, 1);
($code, $d) = put($gw, $blob, $token);
is($code, 200, 'a good HS256 token: stored');
my $id = id_of($d);
blob_is($t->get_blob($id), $blob, 'reads need no token');

# quilts are uploads too (PUT /v1/quilts goes through the same check)
my $QB = 'quilt-boundary-55';
my $quilt = "--$QB\r\nContent-Disposition: form-data; name=\"a.txt\"; "
          . "filename=\"a.txt\"\r\n\r\nquilt file a\r\n--$QB--\r\n";
for my $case ([undef, 401, 'MISSING_TOKEN', 'a quilt without a token'],
              [hs256(claims(max_size => 10)), 403, 'MAX_SIZE_EXCEEDED',
               'a quilt over the token\'s max_size'],
              [hs256(claims()), 200, '', 'a quilt with a good token'])
{
    my ($tok, $status, $reason, $what) = @$case;
    my %h = ('Content-Type' => "multipart/form-data; boundary=$QB");
    $h{Authorization} = "Bearer $tok" if defined $tok;
    my $r = $t->request('PUT', "$gw/v1/quilts", $quilt, \%h);
    my $qd = eval { JSON::PP->new->decode($r->{content}) } || {};
    is($r->{status}, $status, "$what: $status") or diag($r->{content});
    is(why($qd), $reason, "... $reason") if $reason ne '';
    ok($qd->{blobStoreResult}, '... stored as a quilt') if $status == 200;
}
$res = refused($gw, $token, 401, 'TOKEN_ALREADY_USED', 'the same token again',
               body => $blob);
like($res->{headers}{'www-authenticate'}, qr/error="invalid_token"/,
     '... WWW-Authenticate names the invalid token');

# bodies larger than client_body_buffer_size (256k): read into a file
# when the token is good, discarded when it is not
my $large = blob_of(300_000, 3);
my $large_id = accepted($gw, hs256(claims()), 'a 300 kB upload',
                        body => $large);
blob_is($t->get_blob($large_id), $large, '... reads back');
refused($gw, hs256(claims(exp => $now - 600)), 401, 'EXPIRED_SIGNATURE',
        'a 300 kB upload with an expired token', body => $large);

refused($gw, hs256(claims(), secret => 'another secret, also 32 bytes long'),
        401, 'INVALID_SIGNATURE', 'a token of another secret');
refused($gw, signing_input({ alg => 'none' }, claims()) . '.', 401,
        'INVALID_SIGNATURE', 'alg none, no signature');
refused($gw, signing_input({ alg => 'none' }, claims()) . '.c2ln', 401,
        'INVALID_SIGNATURE', 'alg none with a signature');
refused($gw, hs256(claims(), alg => 'HS512'), 401, 'INVALID_SIGNATURE',
        'HS512 in the header, HS256 key');
my $good = hs256(claims());
(my $tampered = $good) =~ s/\.([^.]+)\./'.' . encode_base64url($JSON->encode(
    claims(max_size => 10 ** 9))) . '.'/e;
refused($gw, $tampered, 401, 'INVALID_SIGNATURE', 'a payload changed');

refused($gw, 'abc', 401, 'INVALID_TOKEN', 'one part');
refused($gw, 'a.b.c', 401, 'INVALID_TOKEN', 'parts that are no JSON');
refused($gw, hs256('{"exp":'), 401, 'INVALID_TOKEN', 'payload cut short');
refused($gw, hs256({ jti => 'x' . ++$seq }), 401, 'INVALID_TOKEN', 'no exp');
refused($gw, hs256({ exp => $now + 300 }), 401, 'INVALID_TOKEN', 'no jti');
refused($gw, hs256(claims(exp => "$now")), 401, 'INVALID_TOKEN',
        'exp a string');
refused($gw, 'x' x 5000, 401, 'INVALID_TOKEN', 'a token of 5000 bytes');

# time: 60 s of leeway both ways
refused($gw, hs256(claims(exp => $now - 120)), 401, 'EXPIRED_SIGNATURE',
        'expired 2 minutes ago');
accepted($gw, hs256(claims(exp => $now - 20)), 'expired 20 s ago (leeway)');
refused($gw, hs256(claims(iat => $now + 600)), 401, 'INVALID_TIMESTAMP',
        'issued 10 minutes ahead');
accepted($gw, hs256(claims(iat => $now + 10)), 'issued 10 s ahead (leeway)');
accepted($gw, hs256(claims(iat => $now - 10)), 'issued 10 s ago');
refused($gw, hs256(claims(nbf => $now + 600)), 401, 'INVALID_TIMESTAMP',
        'not before 10 minutes ahead');
refused($gw, hs256(claims(exp => $now + 7200)), 401, 'INVALID_EXPIRATION',
        'valid for 2 hours, max_lifetime 1h');
accepted($gw, hs256(claims(exp => $now + 3000)), 'valid for 50 minutes');

# sizes: Content-Length first, a chunked body once read
my $body = blob_of(100, 7);
accepted($gw, hs256(claims(max_size => 100)), 'max_size as large',
         body => $body);
refused($gw, hs256(claims(max_size => 99)), 403, 'MAX_SIZE_EXCEEDED',
        'max_size one byte short', body => $body);
accepted($gw, hs256(claims(size => 100)), 'size exact', body => $body);
refused($gw, hs256(claims(size => 101)), 403, 'SIZE_INCORRECT',
        'size one byte more', body => $body);
refused($gw, hs256(claims(size => 100, max_size => 100)), 403,
        'INVALID_SIZES', 'both size and max_size', body => $body);

my @chunks = (blob_of(60, 8), blob_of(60, 9));
$res = $t->request('PUT', "$gw/v1/blobs", sub { shift @chunks },
                   { Authorization => 'Bearer ' . hs256(claims(max_size => 100)) });
is($res->{status}, 403, 'a chunked body of 120 bytes, max_size 100: 403');
is(reason($res), 'MAX_SIZE_EXCEEDED',
   '... MAX_SIZE_EXCEEDED once the body is read');
@chunks = (blob_of(60, 8), blob_of(40, 9));
$res = $t->request('PUT', "$gw/v1/blobs", sub { shift @chunks },
                   { Authorization => 'Bearer ' . hs256(claims(size => 100)) });
is($res->{status}, 200, 'a chunked body of exactly size bytes: stored');

# epochs: ?epochs= against epochs (exact) and max_epochs
accepted($gw, hs256(claims(epochs => 2)), 'epochs 2, ?epochs=2',
         query => '?epochs=2');
refused($gw, hs256(claims(epochs => 2)), 403, 'INVALID_EPOCHS',
        'epochs 2, ?epochs=3', query => '?epochs=3');
refused($gw, hs256(claims(epochs => 2)), 403, 'INVALID_EPOCHS',
        'epochs 2, no ?epochs (1)');
accepted($gw, hs256(claims(max_epochs => 2)), 'max_epochs 2, ?epochs=2',
         query => '?epochs=2');
refused($gw, hs256(claims(max_epochs => 2)), 403, 'EPOCHS_ABOVE_MAX',
        'max_epochs 2, ?epochs=3', query => '?epochs=3');
refused($gw, hs256(claims(epochs => 2, max_epochs => 2)), 403,
        'INVALID_EPOCHS', 'both epochs and max_epochs', query => '?epochs=2');
refused($gw, hs256(claims(send_object_to => '0x' . '1' x 64)), 403,
        'MISSING_SEND_OBJECT_TO', 'send_object_to (no Sui objects here)');

# a token its limits refused was not spent
my $limited = claims(max_epochs => 1);
refused($gw, hs256($limited), 403, 'EPOCHS_ABOVE_MAX', 'a token refused',
        query => '?epochs=2');
accepted($gw, hs256($limited), '... is still good for an upload it allows');

# bad parameters are answered before the token is looked at
refused($gw, hs256(claims()), 400, 'UNKNOWN_PARAMETER', 'an unknown parameter',
        query => '?color=red');
$t->stop;

# --- EdDSA, RS256, ES256 ----------------------------------------------

for my $case (['EdDSA', 'ed'], ['RS256', 'rs'], ['ES256', 'es']) {
    my ($alg, $k) = @$case;
    (my $conf = $GATEWAY) =~ s{HS256 %%DIR%%/jwt\.secret}{$alg %%DIR%%/$k.pub};
    $t->write_config(gateway => $conf)->run;
    accepted($gw, signed($alg, "$dir/$k.key", claims()),
             "$alg token of the issuer's key");
    refused($gw, hs256(claims()), 401, 'INVALID_SIGNATURE',
            "HS256 token to an $alg gateway");
    my $pem = WalrusTest::read_file("$dir/$k.pub");
    refused($gw, hs256(claims(), secret => $pem), 401, 'INVALID_SIGNATURE',
            "HS256 keyed with the $alg public key (algorithm confusion)");
    if ($alg eq 'EdDSA') {
        refused($gw, signed('EdDSA', "$dir/ed-other.key", claims()), 401,
                'INVALID_SIGNATURE', 'EdDSA token of another key');
        my $exp = signed('EdDSA', "$dir/ed.key", claims(exp => $now - 300));
        refused($gw, $exp, 401, 'EXPIRED_SIGNATURE', 'expired EdDSA token');
    }
    $t->stop;
}

# two keys (an issuer rotating its key): tokens of either pass
(my $two = $GATEWAY) =~ s{(walrus_gateway_jwt_key HS256 [^\n]*\n)}
                         {$1            walrus_gateway_jwt_key EdDSA %%DIR%%/ed.pub;\n};
$t->write_config(gateway => $two)->run;
accepted($gw, hs256(claims()), 'keys HS256 and EdDSA: an HS256 token');
accepted($gw, signed('EdDSA', "$dir/ed.key", claims()), '... an EdDSA token');
refused($gw, signed('EdDSA', "$dir/ed-other.key", claims()), 401,
        'INVALID_SIGNATURE', '... not an EdDSA token of a third key');
refused($gw, signed('RS256', "$dir/rs.key", claims()), 401,
        'INVALID_SIGNATURE', '... nor an RS256 token');
$t->stop;

# a key that does not fit its algorithm stops nginx -t (whose [emerg]
# lines go to the error log)
$t->allow_log(qr/\[emerg\] .*cannot load the \w+ key/);
$t->allow_log(qr/\[emerg\] .*needs "walrus_gateway_jwt_key/);
(my $bad = $GATEWAY) =~ s{HS256 %%DIR%%/jwt\.secret}{EdDSA %%DIR%%/rs.pub};
my ($passed, $out) = $t->write_config(gateway => $bad)->test_config;
ok(!$passed, 'an RSA key for EdDSA: nginx -t fails');
like($out, qr/cannot load the EdDSA key .*not an Ed25519 public key/,
     '... saying why');
WalrusTest::write_file("$dir/short.secret", "too short\n");
($bad = $GATEWAY) =~ s{jwt\.secret}{short.secret};
($passed, $out) = $t->write_config(gateway => $bad)->test_config;
like($out, qr/shorter than the hash/, 'a short HS256 secret: nginx -t fails');
($bad = $GATEWAY) =~ s{\n\s*walrus_gateway_jwt_key [^\n]*}{};
($passed, $out) = $t->write_config(gateway => $bad)->test_config;
like($out, qr/"walrus_gateway_jwt on" needs "walrus_gateway_jwt_key/,
     'jwt on without a key: nginx -t fails');

# --- the worker's memory of token IDs is bounded -----------------------

(my $small = $GATEWAY) =~ s{walrus_gateway_jwt_leeway 60s;}
                           {walrus_gateway_jwt_leeway 0s;};
$t->write_config(gateway => $small,
                 http => "    walrus_gateway_jwt_replay_cache 2;\n")->run;
# (10 s of life, so that the first two are alive at the third even
# under valgrind; then the test waits for their end)
my $end = int(time) + 10;
accepted($gw, hs256(claims(exp => $end)), 'token 1 of 2');
accepted($gw, hs256(claims(exp => $end)), 'token 2 of 2');
refused($gw, hs256(claims()), 503, 'REPLAY_CACHE_FULL',
        'a third live token, memory for 2');
sleep 0.1 while time < $end + 1.2;
accepted($gw, hs256(claims()), 'once the first two expired, a new one');
$t->stop;

# --- two gateways, one Redis --------------------------------------------

$t->start_redis;
my $REDIS = "    walrus_redis 127.0.0.1:%%REDIS_PORT%%;\n"
    . "    walrus_redis_timeout 1s;\n";
$t->write_config(gateway => $GATEWAY, http => $REDIS)->run;
my $AUTH = <<'EOF';
walrus_gateway_jwt on;
            walrus_gateway_jwt_key HS256 %%DIR%%/jwt.secret;
EOF
my $gw2 = $t->start_gateway('second', $t->committee, http => $REDIS,
                            gateway_extra => $AUTH);
ok(eventually(sub { (put($gw2, 'x'))[0] == 401 }),
   'the second gateway asks for tokens too');
for my $url ($gw, $gw2) {
    ok(eventually(sub { (put($url, blob_of(10, 5), hs256(claims())))[0]
                        == 200 }, 10), "$url has connected to Redis");
}

my $c1 = claims();
accepted($gw, hs256($c1), 'a token on gateway 1');
refused($gw2, hs256($c1), 401, 'TOKEN_ALREADY_USED',
        '... replayed on gateway 2');
my $big = blob_of(300_000, 4);
blob_is($t->get_blob(accepted($gw2, hs256(claims()),
                              'a 300 kB upload after Redis answered',
                              body => $big)), $big, '... reads back');
my $c2 = claims();
accepted($gw2, hs256($c2), 'another token on gateway 2');
refused($gw, hs256($c2), 401, 'TOKEN_ALREADY_USED',
        '... replayed on gateway 1');
refused($gw2, hs256($c2), 401, 'TOKEN_ALREADY_USED',
        '... and on gateway 2 itself');
my $ttl = $t->redis('TTL', "walrus:jti:$c1->{jti}");
ok($ttl > 300 && $ttl <= 360, "its ID is kept till exp + leeway ($ttl s)");

# Redis hung: the wait ends at walrus_redis_timeout, the upload is refused
kill 'STOP', $t->{redis_pid};
my $start = time;
$res = refused($gw, hs256(claims()), 503, 'AUTH_UNAVAILABLE',
               'Redis hung: fail closed');
my $took = time - $start;
ok($took > 0.9 && $took < 3,
   sprintf('... at the Redis deadline, 1 s (%.2f s)', $took));
is($res->{headers}{'retry-after'}, '1', '... Retry-After');
kill 'CONT', $t->{redis_pid};

# Redis down
$t->stop_redis;
refused($gw, hs256(claims()), 503, 'AUTH_UNAVAILABLE', 'Redis down');
refused($gw2, hs256(claims()), 503, 'AUTH_UNAVAILABLE',
        '... on both gateways');
my ($rc) = put($gw, 'x');
is($rc, 401, '... a missing token is still 401');

# Redis back: the gateways reconnect, the IDs are checked again
$t->start_redis;
my $c3 = claims();
ok(eventually(sub { (put($gw, blob_of(50, 77), hs256($c3)))[0] == 200 },
              15), 'Redis back: uploads go on');
refused($gw2, hs256($c3), 401, 'TOKEN_ALREADY_USED',
        '... and replays are refused across gateways again');
$t->stop_gateway('second');
$t->stop;
$t->stop_redis;

# --- conf.d/public-gateway.conf: tokens and limits --------------------

my $recipe = WalrusTest::read_file("$WalrusTest::ROOT/conf.d/public-gateway.conf");
$recipe =~ s{/etc/walrus/publisher-tokens\.pub}{%%DIR%%/ed.pub}g;
$recipe =~ s{/etc/walrus/gateway\.key}{%%DIR%%/keys/gateway.key}g;
$recipe =~ s{/var/lib/walrus/gateway_temp}{%%DIR%%/tmp/walrus}g;
$recipe =~ s{listen 80;}{listen 127.0.0.1:%%GATEWAY_PORT%%;} or die;
$t->write_config(http => $recipe)->run;
accepted($gw, signed('EdDSA', "$dir/ed.key", claims()),
         'the recipe: an EdDSA token');
refused($gw, undef, 401, 'MISSING_TOKEN', '... none');

# uploads: 1 per second and a burst of 5; a client sending 20 at once
sleep 6;  # the burst is back
my %seen;
my $json_429 = 0;
for (1 .. 20) {
    my ($s, $body, $r) = put($gw, 'x');
    $seen{$s}++;
    $json_429++ if $s == 429 && why($body) eq 'RATE_LIMITED'
                   && ($r->{headers}{'content-type'} // '') eq
                      'application/json';
}
ok($seen{401} && $seen{401} >= 5 && $seen{401} <= 10,
   "... uploads up to the burst get through ($seen{401} of 20)");
ok($seen{429} && $seen{429} >= 10, "... then 429 ($seen{429})");
is($json_429, $seen{429}, '... as JSON in the error model, not HTML');
is($t->request('GET', "$gw/v1/blobs/$id")->{status}, 200,
   '... while reads go on');
$t->stop;

# connections: the recipe with limit_conn 2 instead of 64.  An upload
# refused for its token keeps its request (and the connection's count)
# until nginx has read and dropped the body the client still owes.
(my $conn = $recipe) =~ s{limit_conn walrus_connections 64;}
                         {limit_conn walrus_connections 2;} or die;
$t->write_config(http => $conn)->run;
my @held;
for (1 .. 2) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $t->gateway_port)
        or die "connect: $!";
    print $s "PUT /v1/blobs HTTP/1.1\r\nHost: gw\r\n"
        . "Content-Length: 1000000\r\n\r\n";
    my $line = <$s> // '';
    like($line, qr{^HTTP/1\.1 401}, "held upload $_ refused, body owed");
    push @held, $s;
}
$res = $t->request('GET', "$gw/v1/health");
is($res->{status}, 429, 'a third connection: 429');
is(reason($res), 'RATE_LIMITED', '... RATE_LIMITED, JSON');
close $_ for @held;
ok(eventually(sub { $t->request('GET', "$gw/v1/health")->{status} == 200 }),
   'the two closed: served again');
$t->stop;

done_testing();
