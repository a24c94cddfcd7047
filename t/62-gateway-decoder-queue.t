# A full decoder queue: the gateway's reads decode (verify, rebuild) each
# segment in the thread pool; a read whose decode finds the pool's queue
# full answers 429 OVERLOADED (JSON) before anything is sent, and the
# reads that got in answer the blob.  Blobs of one 4 MiB segment, so that
# a decode lasts a few milliseconds and no read can fail after its header.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use POSIX ();
use WalrusTest;

my $S = 4 * 1024 * 1024;
my $t = WalrusTest->new(n => 7, segment_size => $S);
my $NO_KEEPER = "    walrus_node_keeper off;\n";

$t->write_config(http => $NO_KEEPER, gateway => 1)->run;
my $blob = WalrusTest::pattern_blob($S, 62);
my $id = $t->put_blob($blob);
ok($id, 'a blob of one 4 MiB segment is stored');
$t->stop;

# one thread, a queue of one
$t->write_config(http => $NO_KEEPER,
                 main => 'thread_pool tiny threads=1 max_queue=1;',
                 gateway => <<'EOF')->run;
        location /v1/ {
            walrus_gateway;
            walrus_gateway_key %%DIR%%/keys/gateway.key;
            walrus_gateway_temp_path %%DIR%%/tmp/walrus;
            walrus_thread_pool tiny;
        }
EOF

# rounds of 16 reads at once, until one was refused (the thread may take
# each decode off the queue in time)
my %exits;
for my $round (1 .. 10) {
    my @kids;
    for my $k (1 .. 16) {
        my $pid = fork // die;
        if ($pid == 0) {
            my $r = $t->get_blob($id);
            POSIX::_exit($r->{status} == 200 && $r->{content} eq $blob ? 0
                         : $r->{status} == 429
                           && WalrusTest::reason($r) eq 'OVERLOADED'
                           && ($r->{headers}{'content-type'} // '')
                              =~ m{^application/json} ? 1 : 2);
        }
        push @kids, $pid;
    }
    for (@kids) { waitpid $_, 0; $exits{$? >> 8}++ }
    last if $exits{1};
}
ok(!$exits{2}, 'with a full decoder queue every read gets the blob or 429')
    or diag(explain \%exits);
ok($exits{1}, '... and some are refused with 429 OVERLOADED (JSON)')
    or diag(explain \%exits);
ok($exits{0}, '... and the others get the blob') or diag(explain \%exits);

my $res = $t->get_blob($id);
ok($res->{status} == 200 && $res->{content} eq $blob,
   '... and a later read gets the blob');
$t->stop;

done_testing();
