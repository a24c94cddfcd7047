# Storage node: sliver uploads are streamed.  Each batch of segments is
# verified as it arrives and written to the store past the page cache
# (O_DIRECT, walrus_node_direct_io); a bad segment is answered while the
# rest of the body is still unsent; a declared length that is not the
# sliver's is refused before the body is read; chunked bodies that end
# early or run long are refused; nothing of a refused upload, or of one
# its client left, is left; a graceful shutdown lets an upload finish.
# walrus_node_upload_buffers bounds the memory the uploads of a worker
# hold: an upload that does not fit waits, its body unread, until one
# ends, or answers 429 OVERLOADED after client_body_timeout; the metrics
# show the memory held, the uploads waiting and the waits that expired.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use IO::Socket::INET;
use IO::Select;
use HTTP::Tiny;
use Time::HiRes qw(sleep time);
use WalrusTest;

plan skip_all => 'valgrind runs one process' if $ENV{WALRUS_VALGRIND};

my $P = 'WalrusTest::Proto';
my $t = WalrusTest->new(n => 7);
my $n = $t->n;
my $dir = $t->dir;

# a 3 MB blob, 64 KiB segments: primary slivers of 48 slices of 22,080
# bytes (5 symbols of 4,416), verified 4 slices at a time
my $LEN = 3 * 2**20;
WalrusTest::write_file("$dir/blob.bin", WalrusTest::pattern_blob($LEN, 9));
my $id_text = `$WalrusTest::CTL -c $dir/committee.json encode $dir/blob.bin $dir/enc`;
chomp $id_text;
my $id = $P->can('unb64url')->($id_text);
my $base = "/v1/blobs/$id_text";
my $pair = WalrusTest::Proto::shard_to_pair($id, $n, 0);
my $sliver = WalrusTest::read_file("$dir/enc/$pair.primary");
my $secondary = WalrusTest::read_file("$dir/enc/$pair.secondary");
my $blob_dir = $t->store(0) . "/$id_text";
my $SLICE = 22080;
is(length $sliver, 48 * $SLICE, 'the primary sliver: 48 slices');

my $mport = WalrusTest::free_port();
my $METRICS = <<"EOF";
    server {
        listen 127.0.0.1:$mport;
        location = /metrics {
            walrus_metrics;
        }
    }
EOF

sub metrics { WalrusTest::scrape_metrics($mport) }

sub start {
    my ($extra) = @_;
    $extra //= '';
    $t->write_config(http => $METRICS, node => <<"EOF")->run;
        location / {
            walrus_node;
            walrus_node_name node%%NODE%%;
            walrus_node_key %%DIR%%/keys/node%%NODE%%.key;
            walrus_node_store %%DIR%%/store%%NODE%%;
            $extra
        }
EOF
}

sub tmp_files {
    opendir my $d, $blob_dir or return ();
    return grep { /^\.tmp\./ } readdir $d;
}

sub stored { -e "$blob_dir/$pair.primary" }

sub connect_node {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $t->node_port(0))
        or die "cannot connect to node 0: $!";
    return $s;
}

# the status line and body of an answer on $s, or '' after $wait seconds
sub answer {
    my ($s, $wait) = @_;
    my $sel = IO::Select->new($s);
    my $buf = '';
    my $deadline = time + $wait;
    while (time < $deadline) {
        last unless $sel->can_read($deadline - time);
        my $got = sysread $s, $buf, 65536, length $buf;
        last unless $got;
        last if $buf =~ /\r\n\r\n/ && $buf =~ /\}\s*$/;
    }
    return $buf;
}

sub put_head {
    my ($s, $headers) = @_;
    print $s "PUT $base/slivers/$pair/primary HTTP/1.1\r\nHost: x\r\n"
        . "$headers\r\n";
}

sub chunked {
    my ($data) = @_;
    my $out = '';
    for (my $o = 0; $o < length $data; $o += 50000) {
        my $c = substr($data, $o, 50000);
        $out .= sprintf("%x\r\n", length $c) . $c . "\r\n";
    }
    return $out . "0\r\n\r\n";
}

# the open flags of the worker's file descriptor on a store temporary
# file (an upload in progress), or undef
sub tmp_fd_flags {
    for my $w ($t->worker_pids) {
        opendir my $d, "/proc/$w/fd" or next;
        for my $fd (grep { /^\d+$/ } readdir $d) {
            my $to = readlink "/proc/$w/fd/$fd" // '';
            next unless $to =~ m{/\.tmp\.\Q$pair\E\.primary\.};
            my $info = WalrusTest::read_file("/proc/$w/fdinfo/$fd") // '';
            return oct $1 if $info =~ /^flags:\s+(\d+)/m;
        }
    }
    return undef;
}

sub half_upload {
    my $s = connect_node();
    put_head($s, 'Content-Length: ' . length($sliver) . "\r\n");
    print $s substr($sliver, 0, length($sliver) / 2);
    my $until = time + 5;
    sleep 0.05 while time < $until && !grep { -s "$blob_dir/$_" }
                                                tmp_files();
    return $s;
}

my $O_DIRECT = 040000;

start();
$t->register($id_text, $LEN, 0);
is($t->node_request(0, 'PUT', "$base/metadata",
                    WalrusTest::read_file("$dir/enc/metadata"))->{status},
   201, 'metadata stored');

# --- direct I/O --------------------------------------------------------------

my $s = half_upload();
my $flags = tmp_fd_flags();
ok(defined $flags && ($flags & $O_DIRECT),
   'an upload in progress writes its temporary file with O_DIRECT');
print $s substr($sliver, length($sliver) / 2);
like(answer($s, 10), qr{^HTTP/1.1 201}, '... and completes');
blob_is($t->node_request(0, 'GET', "$base/slivers/$pair/primary"), $sliver,
        '... the stored sliver has the right bytes');
is($t->node_request(0, 'PUT', "$base/slivers/$pair/secondary",
                    $secondary)->{status}, 201,
   'a secondary sliver is stored too');
blob_is($t->node_request(0, 'GET', "$base/slivers/$pair/secondary"),
        $secondary, '... with the right bytes');
unlink "$blob_dir/$pair.primary";

# --- chunked bodies ------------------------------------------------------------

$s = connect_node();
put_head($s, "Transfer-Encoding: chunked\r\n");
print $s chunked($sliver);
like(answer($s, 10), qr{^HTTP/1.1 201}, 'a chunked sliver body is stored');
blob_is($t->node_request(0, 'GET', "$base/slivers/$pair/primary"), $sliver,
        '... with the right bytes');
unlink "$blob_dir/$pair.primary";

$s = connect_node();
put_head($s, "Transfer-Encoding: chunked\r\n");
print $s chunked(substr($sliver, 0, length($sliver) - 100));
my $res = answer($s, 10);
like($res, qr{^HTTP/1.1 400}, 'a chunked body 100 bytes short: 400');
like($res, qr/ended after 1059740 bytes, the sliver has 1059840.*"INVALID_SLIVER_SIZE"/s,
     '... INVALID_SLIVER_SIZE, how many came');

$s = connect_node();
put_head($s, "Transfer-Encoding: chunked\r\n");
print $s chunked($sliver . 'x');
$res = answer($s, 10);
like($res, qr{^HTTP/1.1 400}, 'a chunked body one byte long: 400');
like($res, qr/longer than the sliver's 1059840 bytes.*"INVALID_SLIVER_SIZE"/s,
     '... INVALID_SLIVER_SIZE');
ok(!stored(), '... neither stored');

# --- refused early -----------------------------------------------------------

$s = connect_node();
put_head($s, 'Content-Length: ' . (length($sliver) + 1) . "\r\n");
$res = answer($s, 5);
like($res, qr{^HTTP/1.1 400}, 'a declared length not the sliver\'s: 400 '
                              . 'before any byte of the body');
like($res, qr/"INVALID_SLIVER_SIZE"/, '... INVALID_SLIVER_SIZE');

# segment 21 (the sixth batch) has a wrong byte; the client sends up to
# the end of segment 27 and waits
my $bad = $sliver;
substr($bad, 21 * $SLICE + 5, 1) ^= "\x01";
$s = connect_node();
put_head($s, 'Content-Length: ' . length($bad) . "\r\n");
print $s substr($bad, 0, 28 * $SLICE);
$res = answer($s, 10);
like($res, qr{^HTTP/1.1 400}, 'a bad byte in segment 21: 400 while 20 '
                              . 'segments are still unsent');
like($res, qr/segment 21 of the sliver does not match.*"INVALID_SLIVER"/s,
     '... naming the segment');
like($res, qr/^Connection: close\r$/mi,
     '... with Connection: close, the rest of the body unread');
close $s;
sleep 0.2;
ok(!stored(), '... nothing stored');
is_deeply([tmp_files()], [], '... and no temporary file left');
# a client gone half way: its temporary file goes with the request
$s = half_upload();
ok(scalar(tmp_files()) == 1, 'an upload cut off by its client half way: '
                             . 'its temporary file');
close $s;
my $deadline = time + 5;
sleep 0.05 while time < $deadline && tmp_files();
is_deeply([tmp_files()], [], '... is removed once the node sees it gone');
ok(!stored(), '... nothing stored');

# a graceful shutdown (QUIT) lets an upload in progress finish
$s = half_upload();
kill 'QUIT', $t->master_pid;
sleep 0.5;
print $s substr($sliver, length($sliver) / 2);
like(answer($s, 10), qr{^HTTP/1.1 201},
     'a graceful shutdown waits for an upload in progress');
close $s;
$deadline = time + 10;
sleep 0.05 while time < $deadline && kill 0, $t->master_pid;
ok(!kill(0, $t->master_pid), '... then nginx exits');
ok((WalrusTest::read_file("$blob_dir/$pair.primary") // '') eq $sliver,
   '... the sliver stored whole');
unlink "$blob_dir/$pair.primary";
$t->check_logs;
unlink "$dir/logs/nginx.pid";

# --- walrus_node_direct_io off -------------------------------------------------

start('walrus_node_direct_io off;');
$s = half_upload();
$flags = tmp_fd_flags();
ok(defined $flags && !($flags & $O_DIRECT),
   'walrus_node_direct_io off: the temporary file without O_DIRECT');
print $s substr($sliver, length($sliver) / 2);
like(answer($s, 10), qr{^HTTP/1.1 201}, '... the upload completes');
blob_is($t->node_request(0, 'GET', "$base/slivers/$pair/primary"), $sliver,
        '... with the right bytes');
unlink "$blob_dir/$pair.primary";
$t->stop;

# --- the worker's upload buffers ------------------------------------------------

# room for one upload at a time
start("walrus_node_upload_buffers 1k;\n            client_body_timeout 2s;");
my $first = half_upload();
my $second = connect_node();
put_head($second, 'Content-Length: ' . length($sliver) . "\r\n");
print $second $sliver;
sleep 0.5;
is(answer($second, 0.5), '', 'one upload at a time: the second waits, '
                              . 'its whole body sent');
my $m = metrics();
is($m->{walrus_node_uploads_waiting}, 1, '... walrus_node_uploads_waiting 1');
ok($m->{walrus_node_upload_buffer_bytes} > 100000,
   "... walrus_node_upload_buffer_bytes $m->{walrus_node_upload_buffer_bytes}"
   . ': the first one\'s batch');
print $first substr($sliver, length($sliver) / 2);
like(answer($first, 10), qr{^HTTP/1.1 201}, '... the first completes');
like(answer($second, 10), qr{^HTTP/1.1 200}, '... then the second, which '
     . 'finds the sliver stored');
$m = metrics();
is($m->{walrus_node_uploads_waiting} . ' ' . $m->{walrus_node_upload_buffer_bytes},
   '0 0', '... none waiting, no memory held');
close $_ for $first, $second;
unlink "$blob_dir/$pair.primary";

# the second one's turn does not come within client_body_timeout: the
# first goes on slowly, a KiB every half second
$first = half_upload();
$second = connect_node();
put_head($second, 'Content-Length: ' . length($sliver) . "\r\n");
my $t0 = time;
my $sent = length($sliver) / 2;
$res = '';
while (time < $t0 + 10 && $res eq '') {
    print $first substr($sliver, $sent, 1024);
    $sent += 1024;
    $res = answer($second, 0.5);
}
my $waited = time - $t0;
like($res, qr{^HTTP/1.1 429}, 'an upload that waits past '
                              . 'client_body_timeout: 429');
like($res, qr/"OVERLOADED"/, '... OVERLOADED');
ok($waited > 1.5 && $waited < 4, sprintf('... after %.1f s (2 s)', $waited));
is(metrics()->{'walrus_node_upload_waits_expired_total{node="node0"}'}, 1,
   '... counted in walrus_node_upload_waits_expired_total');
print $first substr($sliver, $sent);
like(answer($first, 10), qr{^HTTP/1.1 201},
     '... and the one in progress completes');
blob_is($t->node_request(0, 'GET', "$base/slivers/$pair/primary"), $sliver,
        '... with the right bytes');
close $_ for $first, $second;

$t->stop;
done_testing();
