# The gateway keeps the temporary files of an upload (its body and its
# parity slivers) open after it ends and overwrites them with the next
# upload, up to walrus_worker_spare_files bytes; what is read back is the
# new upload's, never the bytes left from an earlier one.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use JSON::PP;
use IO::Socket::INET;
use Time::HiRes qw(sleep);
use WalrusTest;

my $MiB = 1024 * 1024;
my $t = WalrusTest->new(n => 7, segment_size => $MiB);
my $dir = $t->dir;
my $GW = $t->gateway_url;

# the worker's open, deleted files in a temp directory: { inode => size }
sub spare_files {
    my ($kind) = @_;
    my ($worker) = $t->worker_pids;
    my %files;

    opendir my $dh, "/proc/$worker/fd" or die "/proc/$worker/fd: $!";
    for my $fd (readdir $dh) {
        my $target = readlink "/proc/$worker/fd/$fd" // next;
        next unless $target =~ m{^\Q$dir\E/tmp/\Q$kind\E/.* \(deleted\)$};
        my @st = stat "/proc/$worker/fd/$fd" or next;
        $files{$st[1]} = $st[7];
    }

    return \%files;
}

sub total { my $s = 0; $s += $_ for values %{$_[0]}; return $s }

# uploads and reads back: the blob ID is walrusctl's, the bytes are equal
sub round_trip {
    my ($blob, $what) = @_;
    my $id = $t->put_blob($blob);
    is($id, $t->cli_blob_id($blob), "$what: stored under walrusctl's blob ID");
    blob_is($t->get_blob($id // 'none'), $blob,
            "$what: read back whole and equal");
    return $id;
}

# the gateway of every section; the sections vary
# walrus_worker_spare_files at the http level
my $GATEWAY = <<'EOF';
        location /v1/ {
            walrus_gateway;
            walrus_gateway_key %%DIR%%/keys/gateway.key;
            walrus_gateway_temp_path %%DIR%%/tmp/walrus;
            walrus_gateway_max_blob_size 64m;
        }
EOF

$t->write_config(gateway => $GATEWAY)->run;

# --- reuse --------------------------------------------------------------------

round_trip(WalrusTest::pattern_blob(8 * $MiB, 1), '8 MiB upload');
my $body = spare_files('body');
my $parity = spare_files('walrus');
is(scalar keys %$body, 1, 'the worker keeps the body file');
is(total($body), 8 * $MiB, '... of the blob\'s size');
is(scalar keys %$parity, 1, 'the worker keeps the parity file');
ok(total($parity) > 8 * $MiB, '... larger than the blob (n = 7: 26/15)');

round_trip(WalrusTest::pattern_blob(3 * $MiB - 4, 2),
           'a smaller upload into the larger files');
is_deeply([ keys %{spare_files('body')} ], [ keys %$body ],
          '... reused the body file');
is_deeply([ keys %{spare_files('walrus')} ], [ keys %$parity ],
          '... and the parity file');

round_trip(WalrusTest::pattern_blob(12 * $MiB, 3),
           'a larger upload into the smaller files');
is(total(spare_files('body')), 12 * $MiB, '... which grew the body file');

# a chunked body (no Content-Length) goes to the spare file too
my $chunked = WalrusTest::pattern_blob(5 * $MiB, 4);
WalrusTest::write_file("$dir/chunked.bin", $chunked);
my $out = `curl -s -T - $GW/v1/blobs < $dir/chunked.bin`;
my $data = eval { JSON::PP->new->decode($out) } || {};
is($data->{newlyCreated}{blobObject}{blobId}, $t->cli_blob_id($chunked),
   'a chunked upload is stored under walrusctl\'s blob ID');
is_deeply([ keys %{spare_files('body')} ], [ keys %$body ],
          '... through the same body file');

# --- two uploads at once: a file each ---------------------------------------

# the first upload sends part of its body, the second one runs whole, then
# the first one ends
my @blobs = map { WalrusTest::pattern_blob((6 + $_) * $MiB, 10 + $_) } 0, 1;
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                              PeerPort => $t->gateway_port) or die $!;
print $s "PUT /v1/blobs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    . 'Content-Length: ' . length($blobs[0]) . "\r\n\r\n"
    . substr($blobs[0], 0, 2 * $MiB);
sleep 0.2;
is($t->put_blob($blobs[1]), $t->cli_blob_id($blobs[1]),
   'an upload while another one is being received: walrusctl\'s blob ID');
print $s substr($blobs[0], 2 * $MiB);
my $answer = do { local $/; <$s> } // '';
close $s;
my ($id0) = $answer =~ /"blobId":"([A-Za-z0-9_-]+)"/;
is($id0, $t->cli_blob_id($blobs[0]), '... and the other one: its blob ID');
is(scalar keys %{spare_files('body')}, 2, 'two body files are kept');
is(scalar keys %{spare_files('walrus')}, 1,
   'one parity file: the second upload had given it back when the first '
   . 'one needed it');

# nine uploads received at once: a worker keeps at most 8 files
my @many = map { WalrusTest::pattern_blob(2 * $MiB, 20 + $_) } 0 .. 8;
my @socks;
for my $blob (@many) {
    my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $t->gateway_port) or die $!;
    print $c "PUT /v1/blobs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        . 'Content-Length: ' . length($blob) . "\r\n\r\n"
        . substr($blob, 0, $MiB);
    push @socks, $c;
}
sleep 0.3;
my $right = 0;
for my $k (0 .. 8) {
    my $c = $socks[$k];
    print $c substr($many[$k], $MiB);
    my $reply = do { local $/; <$c> } // '';
    close $c;
    my ($got) = $reply =~ /"blobId":"([A-Za-z0-9_-]+)"/;
    $right++ if ($got // '') eq $t->cli_blob_id($many[$k]);
}
is($right, 9, 'nine uploads received at once: each under its blob ID');
is(keys(%{spare_files('body')}) + keys(%{spare_files('walrus')}), 8,
   '... and the worker keeps 8 of their files, no more');

# a small body stays in memory (client_body_buffer_size 256k)
$t->restart;
round_trip('small ' x 1000, 'a 6 KB upload');
is(scalar keys %{spare_files('body')}, 0, '... needs no body file');
is(scalar keys %{spare_files('walrus')}, 1, '... a parity file only');
$t->stop;

# --- limits -----------------------------------------------------------------

$t->write_config(gateway => $GATEWAY, http => <<'EOF')->run;
    walrus_worker_spare_files 6m;
EOF
round_trip(WalrusTest::pattern_blob(8 * $MiB, 5), 'spare files 6m: upload');
my $kept = total(spare_files('body')) + total(spare_files('walrus'));
ok($kept > 0 && $kept <= 6 * $MiB,
   "... the files kept are cut to the limit ($kept bytes)");
round_trip(WalrusTest::pattern_blob(8 * $MiB, 6),
           '... and the next upload into the cut files');
$t->stop;

$t->write_config(gateway => $GATEWAY, http => <<'EOF')->run;
    walrus_worker_spare_files 0;
EOF
round_trip(WalrusTest::pattern_blob(8 * $MiB, 7), 'spare files 0: upload');
is(total(spare_files('body')) + scalar keys %{spare_files('walrus')}, 0,
   '... no file is kept');

# no directory for the body file
rmdir "$dir/tmp/body" or die "$dir/tmp/body: $!";
my $mark = $t->log_mark;
my $res = $t->request('PUT', "$GW/v1/blobs", WalrusTest::pattern_blob($MiB, 8));
is($res->{status}, 500, 'no directory for an upload\'s body: 500');
like($t->log_since($mark),
     qr{cannot create a temp file in "\Q$dir\E/tmp/body"},
     '... and the log says why');
$t->stop;

done_testing();
