#!/usr/bin/env perl
# Cache in front of the gateway: what a cold 100-byte range costs.
#
# conf.d/cache.conf as shipped (slices of one segment) and the same file
# without its slice lines (the cache key and the Range sent without
# $slice_range: nginx's proxy_cache alone), each in front of a gateway
# (an nginx of its own) over 7 nodes, committee segment size 4 MiB.  For
# a 64 MiB blob never read before, a GET of bytes 10000000-10000099
# through the cache: the bytes the gateway sent the cache (its access
# log), the sliver bytes the nodes sent (theirs), the time to the answer;
# then the same range again (warm).  Run: perl bench/cdn_bench.pl (about
# a minute; needs make all); results on stdout, in docs/benchmarks.md.
#
# Environment: WALRUS_BENCH_SIZE (the blob, 64M), WALRUS_BENCH_SEGMENT
# (4M).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../t/lib";

use Test::More;
use Time::HiRes qw(time sleep);
use WalrusTest;

$| = 1;

sub size {
    my ($v) = @_;
    my %unit = (k => 1024, m => 1024 ** 2, g => 1024 ** 3);
    return $v =~ /^(\d+)([kmg])?$/i ? $1 * ($2 ? $unit{lc $2} : 1)
                                    : die "bad size $v\n";
}

my $SIZE = size($ENV{WALRUS_BENCH_SIZE} // '64M');
my $S = size($ENV{WALRUS_BENCH_SEGMENT} // '4M');
my ($from, $to) = (10_000_000, 10_000_099);

sub log_size { -s $_[0] // 0 }

# bytes in the access log lines of $file after offset $mark that match $re
sub bytes_since {
    my ($file, $mark, $re) = @_;
    my $log = WalrusTest::read_file($file) // '';
    my $sum = 0;
    for (split /\n/, substr($log, $mark)) {
        $sum += (split ' ')[3] if /$re/;
    }
    return $sum;
}

sub run {
    my ($sliced) = @_;
    my $t = WalrusTest->new(n => 7, segment_size => $S);
    my $dir = $t->dir;
    mkdir "$dir/tmp";
    my $gw = $t->start_gateway('gw', $t->committee);
    my ($gw_port) = $gw =~ /:(\d+)$/;
    my $port = WalrusTest::free_port();
    my @subst = ('listen 80;' => "listen 127.0.0.1:$port;",
                 'server 127.0.0.1:8080;' => "server 127.0.0.1:$gw_port;",
                 '/var/cache/walrus' => "$dir/cache",
                 'slice 4m;' => $sliced ? 'slice ' . $S / 1024 . 'k;' : '');
    push @subst, 'proxy_set_header Range $slice_range;' => '',
                 '$args$slice_range;' => '$args;' unless $sliced;
    $t->write_config(http => $t->recipe('cache.conf', @subst))->run;
    my $C = "http://127.0.0.1:$port";
    eventually(sub { $t->request('GET', "$C/v1/health")->{status} == 200 },
               10) or die 'the cache does not answer';

    my $blob = WalrusTest::pattern_blob($SIZE, 7);
    my $put = $t->request('PUT', "$gw/v1/blobs", $blob);
    $put->{status} == 200 or die "the upload failed: $put->{status}";
    my $id = $t->cli_blob_id($blob);
    sleep 1;

    my @row;
    for my $pass ('cold', 'warm') {
        my $gw_mark = log_size("$dir/gw/logs/access.log");
        my @node_marks = map { log_size("$dir/logs/node$_.access.log") }
                         0 .. 6;
        my $t0 = time;
        my $res = $t->request('GET', "$C/v1/blobs/$id", undef,
                              { Range => "bytes=$from-$to" });
        my $ms = 1000 * (time - $t0);
        $res->{status} == 206
            && $res->{content} eq substr($blob, $from, $to - $from + 1)
            or die "bad answer $res->{status}";
        # the slices still being filled (without slices: the whole blob)
        # end after the answer: wait for the logs to settle
        my ($last, $now) = (-1, 0);
        while ($last != $now) {
            sleep 1;
            $last = $now;
            $now = log_size("$dir/gw/logs/access.log");
        }
        my $gw_bytes = bytes_since("$dir/gw/logs/access.log", $gw_mark,
                                   qr{^GET /v1/blobs/});
        my $node_bytes = 0;
        $node_bytes += bytes_since("$dir/logs/node$_.access.log",
                                   $node_marks[$_], qr{sliver}) for 0 .. 6;
        push @row, sprintf '| %s | %s | %d | %d | %.0f |',
            $sliced ? "slice $S" : 'no slice', $pass, $gw_bytes,
            $node_bytes, $ms;
    }
    $t->stop_gateway('gw');
    $t->stop;
    return @row;
}

my @rows = (run(1), run(0));
print "\nblob $SIZE bytes, segment $S, range bytes=$from-$to\n\n",
      "| cache | read | bytes the gateway sent | sliver bytes the nodes "
      . "sent | ms to the answer |\n|---|---|---|---|---|\n",
      map { "$_\n" } @rows;
done_testing();
