# Large reads: a 100 MiB blob comes back whole; 100 concurrent reads of a
# 64 MiB blob are all correct and the worker's memory stays bounded.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Digest::SHA qw(sha256_hex);
use IO::Socket::INET;
use WalrusTest;

my $MiB = 1024 * 1024;
my $t = WalrusTest->new(n => 7, segment_size => $MiB);
my $dir = $t->dir;

$t->write_config(gateway => <<'EOF')->run;
        location /v1/ {
            walrus_gateway;
            walrus_gateway_key %%DIR%%/keys/gateway.key;
            walrus_gateway_temp_path %%DIR%%/tmp/walrus;
            walrus_gateway_max_blob_size 200m;
        }
EOF

sub make_blob {
    my ($mib, $seed) = @_;
    srand($seed);
    my $chunk = pack 'N*', map { int rand 2**32 } 1 .. $MiB / 4;
    return join '', map { pack('N', $_) . substr($chunk, 4) } 1 .. $mib;
}

my $big = make_blob(100, 1);
my $big_id = $t->put_blob($big);
ok($big_id, 'a 100 MiB blob is stored');
my $res = $t->get_blob($big_id);
blob_is($res, $big, '... and comes back byte for byte');
undef $big;
undef $res;

my $blob = make_blob(64, 2);
my $sum = sha256_hex($blob);
my $id = $t->put_blob($blob);
ok($id, 'a 64 MiB blob is stored');
my $url = $t->gateway_url . "/v1/blobs/$id";
undef $blob;

my ($worker) = $t->worker_pids;
my $before = WalrusTest::peak_rss($worker);

my @kids;
for my $k (1 .. 100) {
    my $pid = fork // die;
    if ($pid == 0) {
        my $got = `curl -sf --max-time 120 $url | sha256sum`;
        POSIX::_exit($got =~ /^$sum / ? 0 : 1);
    }
    push @kids, $pid;
}
my $failed = 0;
for (@kids) { waitpid $_, 0; $failed++ if $? }
is($failed, 0, '100 concurrent reads of a 64 MiB blob are all correct');

my $after = WalrusTest::peak_rss($worker);
my $growth = ($after - $before) / 1024;
diag(sprintf 'worker peak RSS %d KiB -> %d KiB (+%.0f MiB)', $before, $after,
     $growth);
ok($growth < 100 * 8, sprintf('the worker grew by %.0f MiB for 100 reads of '
                              . '64 MiB (< 8 MiB a read)', $growth));

# clients that go away after the first bytes leave segments in the read
# window; the worker frees them and serves the next read whole
for (1 .. 5) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $t->gateway_port) or die;
    print $s "GET /v1/blobs/$id HTTP/1.1\r\nHost: x\r\n\r\n";
    my $got = '';
    sysread $s, $got, 1000;
    close $s;
}
my $whole = `curl -sf --max-time 60 $url | sha256sum`;
like($whole, qr/^$sum /, 'after 5 clients went away mid-read, a read is whole');

$t->stop;
done_testing();
