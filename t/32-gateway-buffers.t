# A worker recycles its large read buffers (captured slivers, decoded
# segments) up to walrus_worker_spare_buffers instead of handing them back
# to malloc(), which returns them to the kernel: each read would then
# fault in and clear every page of them again.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use WalrusTest;

# glibc raises its mmap threshold after the first large free() and then
# keeps such buffers itself, unless the threshold is fixed (as here) or
# the sizes a worker frees vary; the test fixes it so that only the
# module's recycling can keep the pages
$ENV{GLIBC_TUNABLES} = 'glibc.malloc.mmap_threshold=131072';

my $MiB = 1024 * 1024;
my $S = 4 * $MiB;
my $B = $MiB;
my $READS = 20;
my $t = WalrusTest->new(n => 7, segment_size => $S);
my $gw = sub { $t->gateway_url . $_[0] };

my $blob = WalrusTest::pattern_blob($B, 1);

my $GATEWAY = <<'EOF';
        location /v1/ {
            walrus_gateway;
            walrus_gateway_key %%DIR%%/keys/gateway.key;
            walrus_gateway_temp_path %%DIR%%/tmp/walrus;
        }
EOF

$t->write_config(gateway => $GATEWAY)->run;
my $id = $t->put_blob($blob);
ok($id, 'a 1 MiB blob is stored') or BAIL_OUT('no blob to read');

# the node of pair 0 answers late: after the first read the worker avoids
# it, and every read decodes from a parity sliver
my $late = WalrusTest::Proto::id_mod(WalrusTest::Proto::unb64url($id),
                                     $t->n);

sub minor_faults {
    my $total = 0;
    for my $pid ($t->worker_pids) {
        my $stat = WalrusTest::read_file("/proc/$pid/stat") // '';
        $stat =~ s/^.*\) //s;
        $total += (split ' ', $stat)[7];
    }
    return $total;
}

# minor page faults of the worker per read, after a few reads to warm up
sub faults_per_read {
    my ($spare) = @_;
    my $extra = defined $spare ? "walrus_worker_spare_buffers $spare;" : '';
    $t->write_config(gateway => $GATEWAY, down => [ $late ],
        main => 'load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;',
        http => <<"EOF");
    $extra
    server {
        listen 127.0.0.1:%%NODE_PORT_$late%%;
        location / { echo_sleep 3; echo slow; }
    }
EOF
    $t->restart;

    for (1 .. 3) {
        my $r = $t->request('GET', $gw->("/v1/blobs/$id"));
        die "GET: $r->{status}" unless $r->{status} == 200
                                       && $r->{content} eq $blob;
    }

    my $before = minor_faults();
    my $good = 0;
    for (1 .. $READS) {
        my $r = $t->request('GET', $gw->("/v1/blobs/$id"));
        $good++ if $r->{status} == 200 && $r->{content} eq $blob;
    }
    is($good, $READS, ($extra || 'default spare buffers')
                      . ": every read gives the blob");

    return (minor_faults() - $before) / $READS;
}

my $pages = $B / 4096;
my $kept = faults_per_read();

cmp_ok($kept, '<', $pages / 4,
       "a read of $pages pages faults in few new pages")
    or diag('the worker did not reuse its read buffers');

my $none = faults_per_read('0');
cmp_ok($none, '>', $pages, "without spare buffers a read faults in more "
       . "than its $pages pages ($none)");
my $capped = faults_per_read('1m');
ok($capped > $pages && $capped < $none,
   "a 1 MiB cap keeps part of a read's buffers ($capped)");

$t->stop;

done_testing;
