# A wiped node heals from peers that are busy (429) most of the time: as
# long as answers keep coming in, it keeps asking the busy ones again and
# keeps what it has, so that each peer sends its recovery answer once.
# (It used to give up after 8 waves of 429s however many answers had
# come, drop them and start the pair over in the next round: a batch
# that needs more peers than answer at once, n = 100 over 100 node
# servers in one worker, downloaded 66 to 99 times the pair's bytes.)
#
# Every node sits behind a relay; node i's answers 429 to its first 3 * i
# recovery requests and then passes them on; node 0 loses its store.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use WalrusTest;

my $S = 4096;
my $t = WalrusTest->new(n => 7, segment_size => $S);
my ($n, $dir) = ($t->n, $t->dir);

my $HTTP = <<'EOF';
    walrus_node_keeper_interval 300ms;
EOF

# the nodes' servers on ports of their own
my ($moved, @real) = $t->moved_nodes;

sub count {
    my ($file) = @_;
    my $text = WalrusTest::read_file($file) // '';
    return length $text;
}

sub bump {
    my ($file) = @_;
    open my $fh, '>>', $file or die "$file: $!";
    print $fh '.';
    close $fh;
}

# a relay counts the recovery requests it got ("asked<i>"), answers 429
# to the first 3 * i of them while "busy" exists, and counts the
# answers it passed on ("served<i>")
sub relay_connection {
    my ($c, $i) = @_;
    while (my ($h, $body) = WalrusTest::read_message($c)) {
        my ($uri) = $h =~ m{^\S+ (\S+)};
        my $recovery = $uri =~ m{^/v1/blobs/[^/]+/recovery/};

        if ($recovery && -e "$dir/busy") {
            bump("$dir/asked$i");
            if (count("$dir/asked$i") <= 3 * $i) {
                my $json = '{"error":{"code":429,"message":"busy"}}';
                print $c "HTTP/1.1 429 Too Many Requests\r\n"
                    . "Content-Type: application/json\r\n"
                    . 'Content-Length: ' . length($json) . "\r\n"
                    . "Connection: keep-alive\r\n\r\n$json";
                next;
            }
        }

        my $answer = WalrusTest::forward($real[$i], $h, $body);
        return if $answer eq '';
        bump("$dir/served$i")
            if $recovery && $answer =~ m{^HTTP/1\.1 200 };
        print $c $answer;
    }
}

my @relays = map {
    my $i = $_;
    $t->start_relay($i, sub { relay_connection($_[0], $i) });
} 0 .. $n - 1;

$t->write_config(gateway => 1, http => $HTTP . $moved, down => [0 .. $n - 1])
  ->run;

# --- a blob everyone holds --------------------------------------------------

my $blob = WalrusTest::blob_of(5 * $S + 321, 3);
my $id = $t->encode($blob);
is($t->put_blob($blob), $id, 'a blob is stored');
ok(WalrusTest::eventually(sub { !grep { !$t->holds($_, $id) } 0 .. $n - 1 },
                          10),
   'every node holds it');

# --- node 0 wiped, its peers busy -------------------------------------------

my $mark = $t->log_mark;
WalrusTest::write_file("$dir/busy", '');
WalrusTest::wipe($t->store(0));

ok(WalrusTest::eventually(sub { $t->holds(0, $id) }, 30),
   'node 0 gets its slivers back, byte for byte, from busy peers');

# the log line follows the files
my @rebuilt;
WalrusTest::eventually(sub {
    @rebuilt = $t->log_lines($mark, qr/node node0 rebuilt sliver pair/) });
is(scalar @rebuilt, 1, 'the pair is rebuilt once');

my $busy = 0;
$busy += count("$dir/asked$_") for 1 .. $n - 1;
cmp_ok($busy, '>', 9, "the peers answered 429 often ($busy recovery "
       . 'requests in all)');

my @served = map { count("$dir/served$_") } 1 .. $n - 1;
ok(!grep({ $_ > 1 } @served),
   'no peer sent its recovery answer twice (served: '
   . join(',', @served) . ')');

kill 'TERM', @relays;
waitpid $_, 0 for @relays;

$t->stop;

done_testing;
