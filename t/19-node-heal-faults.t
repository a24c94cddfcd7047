# The node keeper against faults (issue 16): peers that lie in their
# recovery answers (wrong symbols), cut them short or close mid-body, and
# lie in their record listings; a blob its writer encoded inconsistently,
# which the gateway then refuses to serve, and nodes that claim a good
# blob is inconsistent; and the keeper's background work through a
# reload, a graceful quit while a peer never answers, and a kill -9 of
# the worker mid-heal.
#
# Ten nodes (f = 3: a primary sliver is rebuilt from 7 symbols, so a
# wiped node heals from its 7 honest peers with two of nine lying).
# Nodes 1, 2 and 3 sit behind relays on their committee ports, each doing
# what the file mode<i> says; node 5 is the one that loses its data.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use File::Find;
use JSON::PP;
use Digest::SHA qw(sha256);
use Time::HiRes qw(sleep time);
use WalrusTest;

my $S = 65536;
my $t = WalrusTest->new(n => 10, segment_size => $S);
my ($n, $dir) = ($t->n, $t->dir);
my $P = 'WalrusTest::Proto';
my $CTL = "$WalrusTest::CTL -c $dir/committee.json";
my ($L, $T, $B, $W) = (1, 2, 3, 5);

# every node runs its keeper (on by default), a round every 300 ms, its
# peer calls through the harness's "location /_walrus_node/", whose
# proxy_read_timeout is 10 s:
#
#     location / {
#         walrus_node;
#         walrus_node_name node%%NODE%%;
#         walrus_node_key %%DIR%%/keys/node%%NODE%%.key;
#         walrus_node_store %%DIR%%/store%%NODE%%;
#     }
my $HTTP = <<'EOF';
    walrus_node_keeper_interval 300ms;
EOF

# --- relays ------------------------------------------------------------------

# the relayed nodes' servers on ports of their own
my ($moved, @real) = $t->moved_nodes($L, $T, $B);

sub mode { WalrusTest::write_file("$dir/mode$_[0]", $_[1]) }

# a record listing as a liar sends it: its first entry's certificate with
# a signature byte changed (the entry's check made again, so that it
# parses), an entry of a blob nobody certified (its registration valid),
# and bytes that are no entry
my $FAKE = pack 'C*', map { ($_ * 7 + 3) % 256 } 1 .. 32;
my $FAKE_ID = $P->can('b64url')->($FAKE);
my $FAKE_REG;

sub entry {
    my ($cert, $reg) = @_;
    my $body = pack('v', length $cert) . $cert . pack('v', length $reg)
        . $reg;
    return pack('V', length $body) . $body . substr(sha256($body), 0, 8);
}

sub lying_listing {
    my ($body) = @_;
    if (length $body > 4) {
        my $len = unpack 'V', $body;
        my $e = substr $body, 4, $len;
        substr($e, 2 + 39 + 2 + 5, 1) ^= "\x01";
        substr($body, 0, 4 + $len + 8) =
            pack('V', $len) . $e . substr(sha256($e), 0, 8);
    }
    my $cert = $P->can('certificate')->(1, $FAKE,
                                        map { [$_, "\x55" x 64] } 0 .. 6);
    return $body . entry($cert, $FAKE_REG) . "\xab" x 200;
}

sub touch { WalrusTest::write_file($_[0], '') }

sub relay_connection {
    my ($c, $i) = @_;
    while (my ($h, $body) = WalrusTest::read_message($c)) {
        my $mode = WalrusTest::read_file("$dir/mode$i") // 'honest';
        my ($uri) = $h =~ m{^\S+ (\S+)};
        my $recovery = $uri =~ m{^/v1/blobs/[^/]+/recovery/};

        if ($mode eq 'hole') {
            # takes the request and never answers: a peer gone silent
            touch("$dir/seen$i");
            1 while sysread $c, my $x, 4096;
            return;
        }

        if ($mode eq 'slow' && $recovery) {
            touch("$dir/seen$i");
            sleep 2;
        }

        # says every blob is inconsistent, and sends the file lie<i> as
        # the proof
        if ($mode eq 'claim' && $uri =~ m{^/v1/blobs/[^/]+/inconsistency$}) {
            my $lie = WalrusTest::read_file("$dir/lie$i") // '';
            print $c "HTTP/1.1 200 OK\r\n"
                . "Content-Type: application/octet-stream\r\n"
                . 'Content-Length: ' . length($lie) . "\r\n\r\n$lie";
            next;
        }

        my $answer = WalrusTest::forward($real[$i], $h, $body);
        return if $answer eq '';
        my ($head, $rest) = split /\r\n\r\n/, $answer, 2;

        if ($mode eq 'claim' && $uri =~ m{/(metadata|certificate)$}) {
            $head .= "\r\nX-Walrus-Inconsistent: true";
        }

        if ($recovery && $head =~ m{^HTTP/1\.1 200 }) {
            if ($mode eq 'flip') {
                # past the header (46 + 2 bytes): symbols and proofs
                for (my $o = 64; $o < length $rest; $o += 50) {
                    substr($rest, $o, 1) ^= "\xff";
                }
            } elsif ($mode eq 'short') {
                $rest = substr $rest, 0, int(length($rest) / 2);
                $head =~ s/^Content-Length: \d+/'Content-Length: '
                                                . length $rest/mie;
            } elsif ($mode eq 'close') {
                # the announced length, half the bytes, and gone
                print $c "$head\r\n\r\n" . substr $rest, 0,
                                                  int(length($rest) / 2);
                return;
            }
        }

        if ($uri =~ m{^/v1/certified} && $mode eq 'record'
            && $head =~ m{^HTTP/1\.1 200 })
        {
            $rest = lying_listing($rest);
            $head =~ s/^Content-Length: \d+/'Content-Length: '
                                            . length $rest/mie;
        }

        print $c "$head\r\n\r\n$rest";
    }
}

$FAKE_REG = $t->registration($FAKE, 1000);
mode($_, 'honest') for $L, $T, $B;
my @relays = map {
    my $i = $_;
    $t->start_relay($i, sub { relay_connection($_[0], $i) });
} $L, $T, $B;

$t->write_config(gateway => 1, http => $HTTP . $moved, down => [$L, $T, $B])
  ->run;

# --- what a node must hold ---------------------------------------------------

sub pair_of {
    my ($i, $id) = @_;
    return $P->can('shard_to_pair')->($P->can('unb64url')->($id), $n, $i);
}

sub holds_all {
    my ($i, @ids) = @_;
    return !grep { !$t->holds($i, $_) } @ids;
}

sub wipe_blobs {
    my ($i, @ids) = @_;
    WalrusTest::wipe($t->store($i) . "/$_") for @ids;
}

sub keeper {
    my $health = eval { JSON::PP->new->decode(
        $t->node_request($_[0], 'GET', '/v1/health')->{content}) } // {};
    return $health->{success}{data}{keeper} // {};
}

# the store's temporary files (walrus_file_open: ".tmp.<name>.<pid>.<seq>")
sub temporary_files {
    my @found;
    find(sub { push @found, $File::Find::name if /^\.tmp\./ }, @_);
    return @found;
}

sub count {
    my ($mark, $re) = @_;
    return scalar $t->log_lines($mark, $re);
}

my @blobs = map { WalrusTest::blob_of($_, 3 + $_ % 5) }
            (2 * $S + 123, 100, $S);
my @ids = map { $t->put_blob($_) } @blobs;
is_deeply(\@ids, [ map { $t->encode($_) } @blobs ],
          'three blobs stored through the gateway (relays honest)');
ok(WalrusTest::eventually(sub {
       !grep { !holds_all($_, @ids) } 0 .. $n - 1 }, 20),
   'every node holds its slivers of every blob');

# --- recovery answers: wrong symbols, cut short ------------------------------

# the keeper asks just enough peers (7 of 9) from a place that moves with
# its rounds, so a liar may be left out of one heal: heal again until
# both liars were met
sub heal_with_liars {
    my ($what, @expect) = @_;
    my $mark = $t->log_mark;
    my ($healed, $met) = (1, 0);

    for my $try (1 .. 8) {
        wipe_blobs($W, @ids);
        $healed &&= WalrusTest::eventually(sub { holds_all($W, @ids) }, 20);
        $met = !grep { !count($mark, $_) } @expect;
        last if $met || !$healed;
    }

    ok($healed, "$what: node $W heals every time, byte for byte");
    ok($met, "$what: the liars are named in the log")
        or diag(join "\n", $t->log_lines($mark, qr/walrus: peer/));
    return $mark;
}

mode($L, 'flip');
mode($T, 'short');
my $lied = qr/peer node$L sent recovery symbols for pair \d+ of blob \S+ /
    . qr/that do not verify: dropped/;
my $short = qr/peer node$T sent a recovery answer for pair \d+ of blob \S+ /
    . qr/that is not one \(.*\): dropped/;
my $mark = heal_with_liars('wrong symbols and an answer cut short',
                           $lied, $short);
is(count($mark, qr/peer node(?!$L|$T)\d+ sent/), 0,
   'no honest peer is blamed');

# nginx ends the subrequest with the bytes that came (it logs "upstream
# prematurely closed connection"), as an answer: the parser finds it short
mode($T, 'close');
my $cut = "peer node$T (?:gave no recovery symbols"
    . '|sent a recovery answer .* that is not one)';
$mark = heal_with_liars('wrong symbols and a connection closed mid-body',
                        $lied, qr/$cut/);
is(count($mark, qr/peer node(?!$L|$T)\d+ (sent|gave)/), 0,
   'no honest peer is blamed');

# --- a lying record listing --------------------------------------------------

mode($T, 'honest');
mode($L, 'record');
$mark = $t->log_mark;
WalrusTest::wipe($t->store($W));
ok(WalrusTest::eventually(sub { holds_all($W, @ids) }, 20),
   "node $W, wiped, learns every blob from its honest peers and heals");
my $refused = qr/peer node$L listed \d+ entries whose certificate or /
    . qr/registration does not verify: skipped/;
my $garbage = qr/peer node$L answered its record with bytes that are no /
    . qr/entries; next listing in (\d+) s/;
ok(WalrusTest::eventually(sub {
       count($mark, $refused) && count($mark, $garbage) }, 20),
   'the liar\'s entries that do not verify and its garbage are logged');
ok(!grep({ -e $t->store($_) . "/$FAKE_ID" } 0 .. $n - 1),
   'no node took in the blob nobody certified');
my $record = `$CTL record ${\ $t->store($W)}/certified.log 2>&1`;
my %listed = map { (split ' ')[1] => 1 } grep { /^\d+ / } split /\n/, $record;
ok($? == 0 && $record !~ /invalid|not valid/
   && join(' ', sort keys %listed) eq join(' ', sort @ids),
   "node ${W}'s record lists the real blobs, each valid") or diag($record);

# a peer that sends garbage is asked again after 1 s, 2 s, 4 s ...: not at
# every round (10 in 3 s) by each of its 9 peers
ok(WalrusTest::eventually(sub {
       grep { /$garbage, keeper of node node$W\b/ && $1 >= 4 }
            $t->log_lines($mark, $garbage) }, 20),
   'the liar\'s peers wait longer and longer before they ask it again');
sub listings { scalar grep { m{^GET /v1/certified} } $t->node_access($L) }
my $listings = listings();
sleep 3;
$listings = listings() - $listings;
ok($listings <= 2 * ($n - 1),
   "the liar was asked for its record $listings times in 3 s");
mode($L, 'honest');

# --- an inconsistently encoded blob ------------------------------------------

my $bad = WalrusTest::blob_of(2 * $S + 500, 9);
WalrusTest::write_file("$dir/bad.bin", $bad);
my $bad_id =
    `$WalrusTest::ROOT/build/tools/bad_parity $n $S $dir/bad.bin $dir/bad`;
chomp $bad_id;

# stored on the nodes directly, as its dishonest writer would
is($t->store_directly($bad_id, length $bad, "$dir/bad"), $n,
   'every node accepts the dishonest slivers');

# its primary sliver p (p = n - 2f) of segment 0 is garbage the metadata
# commits to: the node holding pair p cannot rebuild it
my $p = $n - 2 * $t->f;
my ($X) = grep { pair_of($_, $bad_id) == $p } 0 .. $n - 1;
my $proof = $t->store($X) . "/$bad_id/inconsistency";
$mark = $t->log_mark;
WalrusTest::wipe($t->store($X) . "/$bad_id");
ok(WalrusTest::eventually(sub { -s $proof }, 20),
   "node $X, holding pair $p, keeps an inconsistency proof");
my $out = `$CTL verify-inconsistency $proof 2>&1`;
ok($? == 0 && $out eq "$bad_id\n",
   'walrusctl verify-inconsistency accepts it and prints the blob ID')
    or diag($out);
ok(!-e $t->store($X) . "/$bad_id/$p.primary"
   && !temporary_files($t->store($X) . "/$bad_id"),
   'no sliver and no temporary file of the pair');

sub recovery_asks {
    return scalar grep { m{^GET /v1/blobs/\Q$bad_id\E/recovery/} }
                  map { $t->node_access($_) } 0 .. $n - 1;
}

# (the wipe may race with the keeper's first try: a store error, put off)
my $asks = recovery_asks();
my $after = $t->log_mark;
sleep 3;
is(recovery_asks(), $asks, 'the node asks its peers nothing more of it');
is(count($mark, qr/blob \Q$bad_id\E was encoded inconsistently/), 1,
   'the inconsistency is logged once');
is(count($after, qr/cannot heal blob \Q$bad_id\E/), 0,
   'and the blob is not put off to be tried again');

my $keeper = {};
ok(WalrusTest::eventually(sub {
       $keeper = keeper($X);
       ($keeper->{blobs}{inconsistent} // 0) == 1
           && $keeper->{blobs}{pending} == 0 }, 20),
   'health: the blob counts as inconsistent, none pending')
    or diag(JSON::PP->new->canonical->encode($keeper));

my $status = eval { JSON::PP->new->decode($t->node_request($X, 'GET',
    "/v1/blobs/$bad_id/status")->{content})->{success}{data} } // {};
ok($status->{inconsistent}, 'its status says the blob is inconsistent')
    or diag(JSON::PP->new->canonical->encode($status));

# the node serves its proof, and says that it holds one
my $served = $t->node_request($X, 'GET', "/v1/blobs/$bad_id/inconsistency");
ok($served->{status} == 200
   && $served->{content} eq WalrusTest::read_file($proof)
   && $served->{headers}{'content-type'} eq 'application/octet-stream',
   "node $X serves its proof") or diag("status $served->{status}");
my $head = $t->node_request($X, 'HEAD', "/v1/blobs/$bad_id/inconsistency");
ok($head->{status} == 200 && $head->{headers}{'content-length'} == -s $proof,
   '... HEAD gives its length');
is(join(' ', map { $t->node_request($X, 'GET', "/v1/blobs/$bad_id/$_")
                     ->{headers}{'x-walrus-inconsistent'} // 'none' }
             qw(metadata certificate)),
   'true true', '... its metadata and certificate answers say it has one');
my ($Y) = grep { $_ != $X && $_ != $L && $_ != $T && $_ != $B } 0 .. $n - 1;
my $none = $t->node_request($Y, 'GET', "/v1/blobs/$bad_id/inconsistency");
ok($none->{status} == 404
   && WalrusTest::reason($none) eq 'INCONSISTENCY_NOT_FOUND'
   && !defined $t->node_request($Y, 'GET', "/v1/blobs/$bad_id/metadata")
                 ->{headers}{'x-walrus-inconsistent'},
   "node $Y, without a proof: 404 INCONSISTENCY_NOT_FOUND, no header");
WalrusTest::write_file("$dir/served", $served->{content});
$out = `$CTL verify-inconsistency $dir/served 2>&1`;
ok($? == 0 && $out eq "$bad_id\n",
   'walrusctl verify-inconsistency accepts the proof as served')
    or diag($out);

# --- the gateway answers INCONSISTENT_BLOB -----------------------------------

# the gateway has never read the blob: it asks every node for metadata
# and certificate, hears node X's claim, fetches its proof, checks it,
# and answers the distinct error to every read of the blob, also where
# its segments decode (1 and 2: only segment 0 is bad)
sub proof_gets {
    my ($i, $id) = @_;
    return scalar grep { m{^GET /v1/blobs/\Q$id\E/inconsistency } }
                  $t->node_access($i);
}

my $gets = proof_gets($X, $bad_id);
$mark = $t->log_mark;
my $range = { Range => "bytes=$S-" . ($S + 99) };
is_inconsistent($t->get_blob($bad_id, $range),
                'gateway: a Range GET of segment 1, which decodes, is '
                . 'refused with 422 INCONSISTENT_BLOB');
is(proof_gets($X, $bad_id), $gets + 1, "... after it fetched node ${X}'s "
   . 'proof once');
is(count($mark, qr/blob \Q$bad_id\E is inconsistently encoded: the proof /
          . qr/from node$X holds \(pair $p, primary sliver, segment 0\)/), 1,
   '... which it checked and logged');
is_inconsistent($t->request('HEAD', $t->gateway_url . "/v1/blobs/$bad_id"),
                'a HEAD is refused');
is_inconsistent($t->get_blob($bad_id, { Range => 'bytes=-100' }),
                'a Range GET of the last bytes (segment 2)');
is_inconsistent($t->get_blob($bad_id), 'a GET of the whole blob');
is_inconsistent($t->get("/v1/blobs/$bad_id/status"), 'its status');
is(proof_gets($X, $bad_id), $gets + 1,
   'the worker remembers the verdict: the proof is not fetched again');

# --- nodes that claim a good blob is inconsistent ----------------------------

# node L (a relay) says every blob is inconsistent and sends as the proof
# the file lie<L>: another blob's proof (it holds: of the bad blob),
# garbage, or more bytes than any proof of the blob has.  Each read of a
# good blob the gateway has not read yet checks the claim, names the
# liar at warn and serves the blob; the claim is not remembered.
my $from_liar = "from node$L does not hold";
my @lies = (
    [ 'another blob\'s proof', WalrusTest::read_file($proof),
      qr/$from_liar \(blob ID mismatch\); ignored/ ],
    [ 'garbage', 'walrus-inconsistency:1' . "\x5a" x 5000,
      qr/$from_liar \(malformed input\); ignored/ ],
    [ 'more bytes than a proof', "\x5a" x (4 * 1024 * 1024),
      qr/node node$L says it holds an inconsistency proof of blob \S+, but /
      . qr/answered 200 with more bytes than any proof of the blob has/ ],
);
mode($L, 'claim');
my $seed = 20;
my $lies_mark = $t->log_mark;
for (@lies) {
    my ($lie, $body, $warning) = @$_;
    my $good = WalrusTest::blob_of(2 * $S + 77, $seed++);
    my $good_id = $t->encode($good);
    $t->store_directly($good_id, length $good);
    WalrusTest::write_file("$dir/lie$L", $body);

    $mark = $t->log_mark;
    WalrusTest::blob_is(
        $t->get_blob($good_id, { Range => "bytes=$S-" . ($S + 99) }),
        substr($good, $S, 100), "node $L says a good blob is inconsistent "
        . "and sends $lie: a Range GET is served", status => 206);
    is(scalar(grep { /\Q$good_id\E/ } $t->log_lines($mark, $warning)), 1,
       '... and the gateway names the liar at warn');
    WalrusTest::blob_is($t->get_blob($good_id), $good,
                        '... and serves the whole blob afterwards');
}
is(count($lies_mark, qr/\[(?:error|crit|alert)\].*inconsistent/), 0,
   'no read took the good blobs for inconsistent');
mode($L, 'honest');

# --- a reload while the keeper heals -----------------------------------------

# the relays hold recovery answers for 2 s: the heal is waiting on them
# when the reload comes
mode($_, 'slow') for $L, $T, $B;
unlink map { "$dir/seen$_" } $L, $T, $B;
my ($old) = $t->worker_pids;
$mark = $t->log_mark;
wipe_blobs($W, @ids);
ok(WalrusTest::eventually(sub { grep { -e "$dir/seen$_" } $L, $T, $B }, 20),
   "node $W heals, asking a slow peer");
kill 'HUP', $t->master_pid;
ok(WalrusTest::eventually(sub { holds_all($W, @ids) }, 20),
   'after a reload during the heal, the node heals');
my ($new) = $t->worker_pids;
isnt($new, $old, 'a new worker');

# the old worker kept the store until it exited; the new one took it then
my @lines = split /\n/, $t->log_since($mark);
my ($last_old) = grep { $lines[$_] =~ /\] $old#.*node node$W\b/ }
                 reverse 0 .. $#lines;
my ($first_new) = grep {
    $lines[$_] =~ /\] $new#.*node node$W: this process keeps the store/
} 0 .. $#lines;
ok(defined $first_new && (!defined $last_old || $first_new > $last_old),
   'the new worker keeps the store only after the old one is done with it')
    or diag(join "\n", grep { /node$W\b/ } @lines);
is(scalar(grep { /node node$W: this process keeps the store/ } @lines), 1,
   'one process took the store over');
ok(grep({ /\] $old#.*node node$W: keeper round \d+ stopped because the /
          && /worker is quitting/ } @lines),
   'the old worker\'s round, waiting on a peer, stopped when it quit');
ok(grep({ /\] $new#.*node node$W rebuilt sliver pair/ } @lines),
   'the new worker rebuilt what was left');

# --- kill -9 of the worker in the middle of a heal --------------------------

mode($_, 'honest') for $L, $T, $B;
my $big = WalrusTest::pattern_blob(3 * 1024 * 1024, 77);
my $big_id = $t->put_blob($big);
is($big_id, $t->encode($big), 'a 3 MB blob of 48 segments stored');
ok(WalrusTest::eventually(sub { $t->holds($W, $big_id) }, 20),
   "node $W holds its slivers of it");

# kills the worker and waits for the master to have seen it go; the
# harness fails on a worker that exited on a signal: that was ours
sub kill_worker {
    my ($worker) = @_;
    kill 'KILL', $worker;
    WalrusTest::eventually(sub {
        (WalrusTest::read_file($t->error_log) // '')
            =~ /worker process $worker exited on signal 9/ }, 20)
        or die "worker $worker did not exit";
    my $log = WalrusTest::read_file($t->error_log);
    $log =~ s/^.*exited on signal 9.*\n//mg;
    WalrusTest::write_file($t->error_log, $log);
}

# the worker is killed once the heal writes the pair's temporary files;
# again until the kill came before they were renamed
my $blob_dir = $t->store($W) . "/$big_id";
my ($healed, @left) = (1);
my $k = pair_of($W, $big_id);
for my $try (1 .. 5) {
    my ($worker) = $t->worker_pids;
    WalrusTest::wipe($blob_dir);
    my $until = time + 20;
    while (time < $until) {
        opendir my $d, $blob_dir or next;
        my %names = map { $_ => 1 } readdir $d;
        last if $names{"$k.primary"} && $names{"$k.secondary"};
        next unless grep { /^\.tmp\.$k\.(primary|secondary)\./ } keys %names;
        kill_worker($worker);
        @left = temporary_files($blob_dir);
        last;
    }
    $healed &&= WalrusTest::eventually(sub { $t->holds($W, $big_id) }, 20);
    last if @left || !$healed;
}
ok(@left, 'the worker was killed with the pair\'s temporary files in the '
   . 'store: ' . join(' ', map { s{.*/}{}r } @left));
ok($healed, 'the respawned worker heals the blob');
ok(WalrusTest::eventually(sub { !temporary_files($t->store($W)) }, 20),
   'no temporary file is left in the store')
    or diag(join "\n", temporary_files($t->store($W)));

# --- a graceful quit while a round waits on a peer that never answers --------

mode($B, 'hole');
unlink "$dir/seen$B";
ok(WalrusTest::eventually(sub { -e "$dir/seen$B" }, 20),
   "node ${B}'s relay takes a keeper's request and never answers");
sleep 0.5;
$mark = $t->log_mark;
my $start = time;
$t->stop;
my $took = time - $start;
ok($took < 5, sprintf('nginx quits in %.1f s, not after the peer\'s 10 s '
                      . 'timeout', $took));
ok(count($mark, qr/keeper round \d+ stopped because the worker is quitting/),
   'the keepers\' rounds stopped when the worker quit');

kill 'TERM', @relays;
waitpid $_, 0 for @relays;

done_testing;
