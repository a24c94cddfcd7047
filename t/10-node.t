# Storage node role: registrations, metadata, slivers, confirmations,
# certificates, durability across restarts, hostile input and concurrency.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use POSIX ();
use JSON::PP;
use IO::Socket::INET;
use Time::HiRes qw(sleep);
use File::Find ();
use File::Temp ();
use WalrusTest;

my $P = 'WalrusTest::Proto';
my $t = WalrusTest->new(n => 7, segment_size => 4096);

# each of the 7 node servers (%%NODE%% is its index; the harness writes
# the servers, their ports and access logs); no gateway
my $NODE = <<'EOF';
        location / {
            walrus_node;
            walrus_node_name node%%NODE%%;
            walrus_node_key %%DIR%%/keys/node%%NODE%%.key;
            walrus_node_store %%DIR%%/store%%NODE%%;

            # the keeper stays off: this test removes files to see how
            # the node answers without them, which the keeper would heal
            walrus_node_keeper off;
        }
EOF
$t->write_config(node => $NODE)->run;

my $n = $t->n;
my $dir = $t->dir;
my $json = JSON::PP->new;

# a blob of three full segments and a short one, encoded by walrusctl
my $blob = join '', map { chr(($_ * 7 + 3) % 251) } 0 .. 3 * 4096 + 99;
WalrusTest::write_file("$dir/blob.bin", $blob);
my $id_text = `$WalrusTest::CTL -c $dir/committee.json encode $dir/blob.bin $dir/enc`;
chomp $id_text;
like($id_text, qr/^[A-Za-z0-9_-]{43}$/, 'walrusctl encode gives a blob ID');
my $id = $P->can('unb64url')->($id_text);
my $meta = WalrusTest::read_file("$dir/enc/metadata");
my $base = "/v1/blobs/$id_text";

sub pair_of { WalrusTest::Proto::shard_to_pair($id, $n, $_[0]) }
sub sliver { WalrusTest::read_file("$dir/enc/$_[0].$_[1]") }

# --- health ---------------------------------------------------------------

my $res = $t->node_request(0, 'GET', '/v1/health');
is($res->{status}, 200, 'health answers 200');
my $health = $json->decode($res->{content});
is($health->{success}{data}{node}, 'node0', 'health names the node');
is_deeply($health->{success}{data}{shards}, [0], 'health lists its shards');

# --- registrations ------------------------------------------------------------

# nothing is stored for a blob that no publisher registered
my $p0 = pair_of(0);

$res = $t->node_request(0, 'PUT', "$base/metadata", $meta);
is($res->{status}, 401, 'metadata of an unregistered blob: 401');
is(reason($res), 'REGISTRATION_REQUIRED', '... REGISTRATION_REQUIRED');
like($res->{headers}{'content-type'}, qr{application/json}, '... in JSON');
like($res->{content}, qr/"status":"UNAUTHENTICATED"/,
     '... in the Walrus error model');

$res = $t->node_request(0, 'PUT', "$base/slivers/$p0/primary",
                        sliver($p0, 'primary'));
is($res->{status}, 401, 'a sliver of an unregistered blob: 401');
is(reason($res), 'REGISTRATION_REQUIRED', '... REGISTRATION_REQUIRED');

$res = $t->node_request(0, 'PUT', "$base/certificate",
                        WalrusTest::Proto::certificate(1, $id));
is($res->{status}, 401, 'a certificate of an unregistered blob: 401');
ok(!-e $t->store(0) . "/$id_text", '... and no blob directory is made');

my $len = length $blob;
my $good = $t->registration($id, $len);
is(length $good, 162, 'a registration is 162 bytes');

WalrusTest::run_quiet($WalrusTest::CTL, 'keygen', "$dir/keys/stranger")
    or die 'keygen';
$res = $t->node_request(0, 'PUT', "$base/registration",
                        $t->registration($id, $len,
                                         key => "$dir/keys/stranger"));
is($res->{status}, 403, 'a registration by a key the committee does not '
                        . 'list: 403');
is(reason($res), 'UNKNOWN_PUBLISHER', '... UNKNOWN_PUBLISHER');

my $forged = $good;
substr($forged, 120, 1) = chr(ord(substr($forged, 120, 1)) ^ 1);
$res = $t->node_request(0, 'PUT', "$base/registration", $forged);
is($res->{status}, 403, 'a registration with a broken signature: 403');
is(reason($res), 'INVALID_SIGNATURE', '... INVALID_SIGNATURE');

$forged = $good;
substr($forged, 53, 1) = chr(ord(substr($forged, 53, 1)) ^ 1);
$res = $t->node_request(0, 'PUT', "$base/registration", $forged);
is($res->{status}, 403, 'a registration with a changed length: 403');

my $other_id = "\x5a" x 32;
$res = $t->node_request(0, 'PUT', "$base/registration",
                        $t->registration($other_id, $len));
is($res->{status}, 400, 'the registration of another blob is refused');
is(reason($res), 'BLOB_ID_MISMATCH', '... BLOB_ID_MISMATCH');

$res = $t->node_request(0, 'PUT', "$base/registration",
                        substr($good, 0, -1));
is(reason($res), 'INVALID_REGISTRATION', 'one byte short: refused');
$res = $t->node_request(0, 'PUT', "$base/registration", $good . "\0");
is($res->{status}, 413, 'one byte long: 413');

$res = $t->node_request(0, 'PUT', "$base/registration",
                        $t->registration($id, $len, epoch => 2,
                                         end_epoch => 3));
is(reason($res), 'REGISTRATION_EPOCH_AHEAD',
   'a registration of a later epoch than the committee\'s is refused');
like($res->{content},
     qr/from epoch 2 until epoch 3, the committee is at epoch 1/,
     '... saying why');
$res = $t->node_request(0, 'PUT', "$base/registration",
                        $t->registration($id, $len, epoch => 0,
                                         end_epoch => 1));
is(reason($res), 'INVALID_REGISTRATION', 'an expired one too');
like($res->{content}, qr/until epoch 1, the committee is at epoch 1/,
     '... saying why');
ok(!-e $t->store(0) . "/$id_text", 'refused registrations store nothing');

$res = $t->node_request(0, 'PUT', "$base/registration", $good);
is($res->{status}, 201, 'a registration by the publisher is stored');
like($res->{content}, qr/"stored":"registration","created":true/,
     '... created');
$res = $t->node_request(0, 'PUT', "$base/registration", $good);
is($res->{status}, 200, 'the same one again answers 200');
like($res->{content}, qr/"created":false/, '... not created');
my $longer = $t->registration($id, $len, end_epoch => 9);
$res = $t->node_request(0, 'PUT', "$base/registration", $longer);
is($res->{status}, 201, 'one with a later end epoch replaces it');
for my $case (['an earlier end epoch', end_epoch => 5],
              ['another length', end_epoch => 10, length => $len + 1])
{
    my ($what, %opt) = @$case;
    $res = $t->node_request(0, 'PUT', "$base/registration",
                            $t->registration($id, $opt{length} // $len,
                                             end_epoch => $opt{end_epoch}));
    is($res->{status}, 200, "one with $what is not stored");
}
$res = $t->node_request(0, 'GET', "$base/registration");
blob_is($res, $longer, '... the longer one is kept, served byte for byte');
is(WalrusTest::read_file($t->store(0) . "/$id_text/registration"), $longer,
   'it is stored beside the metadata');

# a permanent blob stays permanent
$res = $t->node_request(5, 'PUT', "$base/registration",
                        $t->registration($id, $len, deletable => 0));
is($res->{status}, 201, 'a permanent registration is stored');
$res = $t->node_request(5, 'PUT', "$base/registration",
                        $t->registration($id, $len, end_epoch => 9));
is($res->{status}, 200, '... and a deletable one does not replace it');
$res = $t->node_request(5, 'PUT', "$base/registration",
                        $t->registration($id, $len, end_epoch => 9,
                                         deletable => 0));
is($res->{status}, 201, '... a longer permanent one does');

$res = $t->node_request(1, 'GET', "$base/registration");
is($res->{status}, 404, 'no registration: 404');
is(reason($res), 'REGISTRATION_NOT_FOUND', '... REGISTRATION_NOT_FOUND');

# a registration whose length is not the metadata's
$res = $t->node_request(6, 'PUT', "$base/registration",
                        $t->registration($id, $len + 1));
is($res->{status}, 201, 'a registration of the wrong length is stored');
$res = $t->node_request(6, 'PUT', "$base/metadata", $meta);
is($res->{status}, 400, '... and the metadata is refused');
is(reason($res), 'REGISTRATION_MISMATCH', '... REGISTRATION_MISMATCH');
ok(!-e $t->store(6) . "/$id_text/metadata", '... not stored');

# a stored registration that no longer verifies is replaced
WalrusTest::write_file($t->store(6) . "/$id_text/registration",
                       $t->registration($id, $len,
                                        key => "$dir/keys/stranger"));
$res = $t->node_request(6, 'PUT', "$base/metadata", $meta);
is($res->{status}, 403, 'a stored registration that does not verify: 403');
is(reason($res), 'REGISTRATION_INVALID', '... REGISTRATION_INVALID');
$res = $t->node_request(6, 'PUT', "$base/registration", $good);
is($res->{status}, 201, '... and a valid one replaces it');

$t->register($id_text, $len);

# --- metadata ---------------------------------------------------------------

$res = $t->node_request(0, 'PUT', "$base/metadata", substr($meta, 0, -1));
is($res->{status}, 400, 'truncated metadata is refused');
is(reason($res), 'INVALID_METADATA', '... as invalid metadata');

my $other = $meta;
substr($other, 20, 1) = chr(ord(substr($other, 20, 1)) ^ 1);
$res = $t->node_request(0, 'PUT', "$base/metadata", $other);
is($res->{status}, 400, 'metadata of another blob is refused');
is(reason($res), 'BLOB_ID_MISMATCH', '... as a blob ID mismatch');
ok(!-e $t->store(0) . "/$id_text/metadata", '... and nothing is stored');

for my $i (0 .. $n - 1) {
    $res = $t->node_request($i, 'PUT', "$base/metadata", $meta);
    is($res->{status}, 201, "node$i stores the metadata");
}

$res = $t->node_request(0, 'PUT', "$base/metadata", $meta);
is($res->{status}, 200, 'storing the metadata again answers 200');

$res = $t->node_request(0, 'GET', "$base/metadata");
blob_is($res, $meta, 'metadata is served byte for byte');

$res = $t->node_request(0, 'HEAD', "$base/metadata");
is($res->{headers}{'content-length'}, length $meta, 'HEAD gives its length');
is(length($res->{content} // ''), 0, '... and no body');

# --- slivers ----------------------------------------------------------------

my $foreign = ($p0 + 1) % $n;

$res = $t->node_request(0, 'PUT', "$base/slivers/$foreign/primary",
                        sliver($foreign, 'primary'));
is($res->{status}, 400, 'a sliver of another shard is refused');
is(reason($res), 'SHARD_NOT_ASSIGNED', '... as not assigned');
ok(!-e $t->store(0) . "/$id_text/$foreign.primary", '... nothing stored');

my $bad = sliver($p0, 'primary');
substr($bad, 5000, 1) = chr(ord(substr($bad, 5000, 1)) ^ 0x40);
$res = $t->node_request(0, 'PUT', "$base/slivers/$p0/primary", $bad);
is($res->{status}, 400, 'a corrupted sliver is refused');
is(reason($res), 'INVALID_SLIVER', '... as not matching the metadata');

$res = $t->node_request(0, 'PUT', "$base/slivers/$p0/primary",
                        sliver($p0, 'primary') . 'x');
is(reason($res), 'INVALID_SLIVER_SIZE', 'a sliver one byte long fails');

$res = $t->node_request(0, 'PUT', "$base/slivers/$p0/secondary",
                        sliver($p0, 'primary'));
is($res->{status}, 400, 'a primary sliver PUT as secondary is refused');

opendir my $dh, $t->store(0) . "/$id_text" or die;
my @files = sort grep { !/^\./ || /^\.tmp/ } readdir $dh;
closedir $dh;
is_deeply(\@files, ['metadata', 'registration'],
          'refused slivers leave no file behind');

$res = $t->node_request(0, 'GET', "$base/confirmation");
is($res->{status}, 409, 'no confirmation before the slivers');
is(reason($res), 'SLIVERS_MISSING', '... slivers missing');

$res = $t->node_request(0, 'PUT', "$base/slivers/$p0/primary",
                        sliver($p0, 'primary'));
is($res->{status}, 201, 'the primary sliver is stored');

$res = $t->node_request(0, 'GET', "$base/confirmation");
is($res->{status}, 409, 'no confirmation with only the primary sliver');

for my $i (0 .. $n - 1) {
    my $pair = pair_of($i);
    for my $axis (qw(primary secondary)) {
        next if $i == 0 && $axis eq 'primary';
        $res = $t->node_request($i, 'PUT', "$base/slivers/$pair/$axis",
                                sliver($pair, $axis));
        is($res->{status}, 201, "node$i stores pair $pair $axis");
    }
}

$res = $t->node_request(0, 'GET', "$base/slivers/$p0/primary");
blob_is($res, sliver($p0, 'primary'), 'a sliver is served byte for byte');

$res = $t->node_request(0, 'GET', "$base/slivers/$p0/primary", undef,
                        { Range => 'bytes=4000-4099' });
blob_is($res, substr(sliver($p0, 'primary'), 4000, 100),
        'a sliver range answers 206 with the right bytes', status => 206);

$res = $t->node_request(0, 'GET', "$base/slivers/$foreign/primary");
is($res->{status}, 404, 'a sliver the node does not hold is 404');
is(reason($res), 'SLIVER_NOT_FOUND', '... SLIVER_NOT_FOUND');

my $stored = $t->store(0) . "/$id_text/$p0.primary";
is((stat $stored)[2] & 07777, 0644, 'a stored sliver is readable (0644)');
is((stat $stored)[3], 1, '... and has exactly one name');
is_deeply([body_temp_files("$dir/tmp/body")], [],
          'no request body file is left after the uploads');

# the body files of requests that have ended (nginx removes a body file
# when the request is freed, which may come just after the answer)
sub body_temp_files {
    my ($root) = @_;
    my @files;
    for (1 .. 50) {
        @files = ();
        File::Find::find(sub { push @files, $File::Find::name if -f }, $root);
        last unless @files;
        sleep 0.1;
    }
    return @files;
}

# --- confirmations and certificates ---------------------------------------

my @signers;
for my $i (0 .. $n - 1) {
    $res = $t->node_request($i, 'GET', "$base/confirmation");
    is($res->{status}, 200, "node$i confirms");
    my $c = $json->decode($res->{content})->{success}{data}{signed};
    is($c->{nodeIndex}, $i, "... as node $i");
    is($P->can('unb64url')->($c->{serializedMessage}),
       WalrusTest::Proto::confirm_message(1, $id),
       '... over the documented message');
    push @signers, [$i, $P->can('unb64url')->($c->{signature})];
}

my $q = $n - $t->f;
my $cert = WalrusTest::Proto::certificate(1, $id, @signers[0 .. $q - 1]);
WalrusTest::write_file("$dir/cert", $cert);
system("$WalrusTest::CTL -c $dir/committee.json verify-cert "
       . "--blob-id $id_text $dir/cert > /dev/null");
is($?, 0, 'walrusctl verifies a certificate of node confirmations');

my $under = WalrusTest::Proto::certificate(1, $id, @signers[0 .. $q - 2]);
$res = $t->node_request(0, 'PUT', "$base/certificate", $under);
is($res->{status}, 400, 'an under-quorum certificate is refused');
is(reason($res), 'INVALID_CERTIFICATE', '... as invalid');

my @forged = map { [@$_] } @signers[0 .. $q - 1];
substr($forged[2][1], 10, 1) = chr(ord(substr($forged[2][1], 10, 1)) ^ 1);
$res = $t->node_request(0, 'PUT', "$base/certificate",
                        WalrusTest::Proto::certificate(1, $id, @forged));
is($res->{status}, 400, 'a forged certificate is refused');

$res = $t->node_request(0, 'PUT', "$base/certificate",
                        WalrusTest::Proto::certificate(2, $id,
                                                       @signers[0 .. $q - 1]));
is($res->{status}, 409, 'a certificate of an epoch the committee history '
                       . 'lacks is refused');
is(reason($res), 'UNKNOWN_EPOCH', '... as of an unknown epoch, not invalid');
ok(!-e $t->store(0) . "/$id_text/certificate", '... nothing stored');

# temporary files of a crashed process are removed by the next write to
# the blob's directory; those of a process that runs are left alone
my $gone_pid = fork // die;
POSIX::_exit(0) if $gone_pid == 0;
waitpid $gone_pid, 0;
my $blob_dir = $t->store(0) . "/$id_text";
WalrusTest::write_file("$blob_dir/.tmp.certificate.$gone_pid.0", 'half');
WalrusTest::write_file("$blob_dir/.tmp.0.primary.$$.3", 'busy');

$res = $t->node_request(0, 'PUT', "$base/certificate", $cert);
is($res->{status}, 201, 'a valid certificate is stored');
ok(!-e "$blob_dir/.tmp.certificate.$gone_pid.0",
   "... a temp file of a process that is gone ($gone_pid) is removed");
ok(-e "$blob_dir/.tmp.0.primary.$$.3",
   '... one of a process that runs is kept');
unlink "$blob_dir/.tmp.0.primary.$$.3";

$res = $t->node_request(0, 'GET', "$base/status");
my $status = $json->decode($res->{content})->{success}{data};
ok($status->{certified} && $status->{metadata} && $status->{stored},
   'status: metadata, slivers and certificate held');

# --- restart keeps everything ----------------------------------------------

$t->restart;

$res = $t->node_request(0, 'GET', "$base/certificate");
blob_is($res, $cert, 'the certificate survives a restart');
$res = $t->node_request(3, 'GET', "$base/slivers/" . pair_of(3) . '/secondary');
blob_is($res, sliver(pair_of(3), 'secondary'), 'slivers survive a restart');
$res = $t->node_request(5, 'GET', "$base/confirmation");
is($res->{status}, 200, 'confirmations survive a restart');

# --- hostile input ----------------------------------------------------------

for my $case (['/v1/blobs/abc/metadata', 'too short'],
              ['/v1/blobs/' . ('A' x 44) . '/metadata', 'too long'],
              ['/v1/blobs/' . ('A' x 42) . '+/metadata', 'bad alphabet'],
              ['/v1/blobs/' . ('A' x 41) . '..%2Fmetadata', 'with ../'],
              ['/v1/blobs/' . ('A' x 42) . 'B/metadata', 'non-canonical'])
{
    $res = $t->node_request(0, 'GET', $case->[0]);
    is($res->{status}, 400, "blob ID $case->[1]: 400");
    is(reason($res), 'INVALID_BLOB_ID', '... INVALID_BLOB_ID');
}

$res = $t->node_request(0, 'GET', '/v1/blobs/..%2F..%2F..%2Fetc%2Fpasswd');
ok($res->{status} == 400 || $res->{status} == 404,
   'a path climbing out of the API is refused');

$res = $t->node_request(0, 'DELETE', "$base/metadata");
is($res->{headers}{allow}, 'GET, HEAD, PUT', '405 names the allowed methods');

for my $path ("$base/slivers/7/primary", "$base/slivers/01/primary",
              "$base/slivers/-1/primary", "$base/slivers/0/tertiary",
              "$base/nothing", '/v2/health')
{
    $res = $t->node_request(0, 'GET', $path);
    is($res->{status}, 404, "no such endpoint: $path");
    like($res->{headers}{'content-type'}, qr{application/json},
         '... answered in JSON');
}

for my $m (qw(DELETE POST PATCH)) {
    $res = $t->node_request(0, $m, "$base/metadata");
    is($res->{status}, 405, "$m is not allowed");
    is(reason($res), 'METHOD_NOT_ALLOWED', '... in JSON');
}

# a huge declared body is refused before it is sent
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                              PeerPort => $t->node_port(1)) or die;
print $s "PUT $base/metadata HTTP/1.1\r\nHost: x\r\n"
    . "Content-Length: 100000000\r\n\r\n";
my $head = '';
while (my $line = <$s>) { $head .= $line; last if $head =~ /\r\n\r\n/ }
like($head, qr{^HTTP/1.1 413}, 'a 100 MB metadata body is refused with 413');
close $s;

# ... and its body is not read as a next request
$s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                           PeerPort => $t->node_port(1)) or die;
print $s "PUT $base/metadata HTTP/1.1\r\nHost: x\r\n"
    . "Content-Length: 70000000\r\n\r\n"
    . "GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n";
my $all = '';
eval {
    local $SIG{ALRM} = sub { die "timeout\n" };
    alarm 2;
    while (my $line = <$s>) { $all .= $line }
    alarm 0;
};
close $s;
like($all, qr{^HTTP/1.1 413}, 'a refused body: 413');
unlike($all, qr{HTTP/1.1 200}, '... and the bytes after it are not a request');

# a chunked body over the limit is refused too
my @parts = ('x' x 10000, 'y' x 10000);
$res = $t->http->request('PUT', $t->node_url(1) . "$base/certificate",
                           { content => sub { shift @parts } });
is($res->{status}, 413, 'a chunked certificate over the limit: 413');

# a body over the limit that arrives with the header: nginx has read part
# or all of it before the module discards it
for my $case (['certificate', 20000, 20000], ['metadata', 64 * 2**20 + 1, 4096])
{
    my ($what, $declared, $sent) = @$case;
    $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                               PeerPort => $t->node_port(1)) or die;
    print $s "PUT $base/$what HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        . "Content-Length: $declared\r\n\r\n" . ('z' x $sent);
    $all = '';
    eval {
        local $SIG{ALRM} = sub { die "timeout\n" };
        alarm 5;
        while (my $line = <$s>) { $all .= $line; last if $all =~ /\}\n$/ }
        alarm 0;
    };
    close $s;
    like($all, qr{^HTTP/1.1 413}, "a $what body of $declared bytes sent "
         . 'with the header: 413');
    like($all, qr{"BODY_TOO_LARGE"}, '... BODY_TOO_LARGE');
}

# storing a sliver again still checks it
my $p2 = pair_of(2);
$res = $t->node_request(2, 'PUT', "$base/slivers/$p2/primary",
                        "\0" x length(sliver($p2, 'primary')));
is(reason($res), 'INVALID_SLIVER',
   'a wrong sliver is refused even when a good one is stored');

# an upload cut off half way leaves nothing behind
my $p1 = pair_of(1);
unlink $t->store(1) . "/$id_text/$p1.primary";
my $full = sliver($p1, 'primary');
$s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                           PeerPort => $t->node_port(1)) or die;
print $s "PUT $base/slivers/$p1/primary HTTP/1.1\r\nHost: x\r\n"
    . 'Content-Length: ' . length($full) . "\r\n\r\n"
    . substr($full, 0, length($full) / 2);
sleep 0.3;
close $s;
sleep 0.3;
ok(!-e $t->store(1) . "/$id_text/$p1.primary",
   'a truncated upload stores nothing');
opendir $dh, $t->store(1) . "/$id_text" or die;
ok(!(grep { /^\.tmp/ } readdir $dh), '... and leaves no temporary file');
closedir $dh;
$res = $t->node_request(1, 'PUT', "$base/slivers/$p1/primary", $full);
is($res->{status}, 201, '... and the next upload succeeds');

# --- body files on another file system are copied ---------------------------

my $shm = File::Temp::tempdir('walrus-body-XXXXXX', DIR => '/dev/shm',
                              CLEANUP => 1);
$t->stop;
$t->write_config(node => $NODE, node_server_extra => { 3 => <<"EOF" })->run;
        client_body_temp_path $shm;
EOF
my $p3 = pair_of(3);
unlink $t->store(3) . "/$id_text/$p3.primary";
$res = $t->node_request(3, 'PUT', "$base/slivers/$p3/primary",
                        sliver($p3, 'primary'));
is($res->{status}, 201, 'a body on another file system is stored (copied)');
$res = $t->node_request(3, 'GET', "$base/slivers/$p3/primary");
blob_is($res, sliver($p3, 'primary'), '... byte for byte');
$res = $t->node_request(3, 'PUT', "$base/slivers/$p3/primary",
                        sliver($p3, 'primary'));
is($res->{status}, 200, '... and stored again answers 200');
$bad = sliver($p3, 'primary');
substr($bad, 100, 1) = chr(ord(substr($bad, 100, 1)) ^ 1);
unlink $t->store(3) . "/$id_text/$p3.primary";
$res = $t->node_request(3, 'PUT', "$base/slivers/$p3/primary", $bad);
is(reason($res), 'INVALID_SLIVER', '... a corrupted one is refused');
ok(!-e $t->store(3) . "/$id_text/$p3.primary", '... and not stored');
is_deeply([body_temp_files($shm)], [], '... leaving no body file behind');
$res = $t->node_request(3, 'PUT', "$base/slivers/$p3/primary",
                        sliver($p3, 'primary'));
is($res->{status}, 201, '... and the right one is stored after it');

# --- concurrency: 200 sliver PUTs and GETs at once ---------------------------

my @kids;
for my $k (0 .. 199) {
    my $pid = fork // die;
    if ($pid == 0) {
        my $i = $k % $n;
        my $pair = pair_of($i);
        my $axis = $k % 2 ? 'primary' : 'secondary';
        my $ok;
        if ($k % 4 < 2) {
            my $r = $t->node_request($i, 'PUT', "$base/slivers/$pair/$axis",
                                     sliver($pair, $axis));
            $ok = $r->{status} == 200 || $r->{status} == 201;
        } else {
            my $r = $t->node_request($i, 'GET', "$base/slivers/$pair/$axis");
            $ok = $r->{status} == 200 && $r->{content} eq sliver($pair, $axis);
        }
        diag("child $k failed") unless $ok;
        POSIX::_exit($ok ? 0 : 1);
    }
    push @kids, $pid;
}
my $failed = 0;
for (@kids) { waitpid $_, 0; $failed++ if $? }
is($failed, 0, '200 concurrent sliver PUTs and GETs all succeed');

# --- a committee without publishers: nothing more is stored ------------------

$t->stop;
my $committee = WalrusTest::read_file($t->committee);
$committee =~ s/,"publishers":\[[^\]]*\]// or die 'no publishers';
WalrusTest::write_file($t->committee, $committee);
my $mark = $t->log_mark;
$t->run;

$res = $t->node_request(0, 'PUT', "$base/registration", $good);
is($res->{status}, 403, 'without publishers a registration is refused');
like($res->{content}, qr/the committee lists no publishers/, '... saying why');
unlink $t->store(0) . "/$id_text/$p0.primary";
$res = $t->node_request(0, 'PUT', "$base/slivers/$p0/primary",
                        sliver($p0, 'primary'));
is($res->{status}, 403, '... and so is a sliver of a registered blob');
is(reason($res), 'REGISTRATION_INVALID', '... REGISTRATION_INVALID');
like($t->log_since($mark),
     qr/\[warn\].*lists no publishers: node "node0" will refuse/,
     'the error log warns at start');

$t->stop;
done_testing();
