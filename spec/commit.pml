/*
 * tmcluster — the commit protocol as a Promela model (issue 6).
 *
 * What it is: the 2PC driver, the replicated decision register, phase two,
 * Resolve, recovery, garbage collection and the participant kit of
 * ../shared/design.md and the Go code, cut down to a world small enough for
 * SPIN to explore every interleaving:
 *
 *   - NPART participants (2 by default; -DNPART=3 also compiles), each with a durable
 *     branch store that survives a crash (client/participant);
 *   - two coordinator nodes, A (term 1) and B (term 2). A leads first; Raft
 *     may elect B once, after which A is an old leader that is paused, not
 *     dead: whatever it was doing goes on interleaved with B;
 *   - the Raft log as one ordered sequence of applied entries, applied one
 *     at a time by the FSM (raftlog.FSM.Apply), with a proposer that may not
 *     learn its entry's fate;
 *   - one idempotency key K and one client (the SDK caller) that is told
 *     outcomes and retries with K on UNAVAILABLE.
 *
 * Two worlds, chosen at compile time:
 *   default      ONESHOT: ExecuteTransaction (presumed abort). Two tx ids, T0
 *                and T1, both carrying K: the first attempt and the client's
 *                retry after OUTCOME_UNKNOWN.
 *   -DTWOSTEP    BeginTransaction(K) -> CommitTransaction: a PREPARING record
 *                whose driver a new leader re-drives, a reaper/Resolve abort
 *                at the deadline, CommitTransaction retries.
 *
 * Mutants: -DM_<NAME> switches on one deliberate bug (see spec/README.md and
 * spec/mutants/); every one of them must make SPIN produce a trail.
 *
 * Process and message map (Go file: function):
 *   Raft         raftlog/node_ops.go: Node.Propose (the future, its error),
 *                raftlog/fsm.go: FSM.Apply, and hashicorp/raft's election.
 *                Apply of DECIDE  = raftlog/apply_decide.go: applyDecide,
 *                decideAbsent, decideOpen, commitVeto, learnsBranches,
 *                noteDecisionKey; BEGIN/PREPARE = raftlog/apply_tx.go:
 *                applyBegin, applyPrepare; ACK and COLLECT =
 *                raftlog/apply_phase2.go: applyAck, applyCollect, collectable.
 *   Node(n)      server/: the leader's duties of node n.
 *                  driver phase one  driver.go: leadership.drive,
 *                                    prepareAll, Server.prepareOne
 *                  phase two         phase2.go: phase2.start, deliver,
 *                                    Server.sendDecision, runAcks
 *                  recovery/reaper   recovery.go: leadership.recover,
 *                                    reap, sweep
 *                  collection        recovery.go: leadership.collect
 *   Participant  client/participant/: Kit.prepare (prepare.go), Kit.end
 *                (phase2.go), resolver.resolve/obey (resolve.go,
 *                resolver.go), Kit.Start's loadPrepared on restart; the
 *                server side of the Resolve RPC it makes is
 *                server/resolve.go: txService.ResolveTransaction,
 *                leadership.resolve, resolveRecorded.
 *   Client       the SDK caller; its calls run server/txservice.go:
 *                ExecuteTransaction, leadership.execute, Server.boundTx,
 *                answer; txservice.go: BeginTransaction; txcommit.go:
 *                CommitTransaction, leadership.commit.
 *   Clock        deadlines passing (TWOSTEP only).
 *
 * Messages (an RPC is one atomic step: request, handler and reply; a lost
 * request or reply is a nondeterministic branch; a late or duplicate
 * delivery is a later step that replays a request sent earlier):
 *   Prepare(n,t,p)        Node n's driver -> participant p   (PrepareRequest, term n+1)
 *   vote                  reply                             (PrepareResponse)
 *   Commit/Abort(t,p)     phase two -> participant          (CommitRequest/AbortRequest)
 *   Resolve(t,p)          participant -> leader              (ResolveTransactionRequest)
 *   Execute/Begin/Commit  client -> leader                   (TransactionService)
 *   pd/pab/pack/pcol/...  entries proposed to Raft           (tmlog.v1 commands)
 */

/* ------------------------------------------------------------------ sizes */
#ifndef NPART
#define NPART 2
#endif
#ifdef TWOSTEP
#define NTX 1
#else
#define NTX 2
#endif
#define NN 2            /* coordinator nodes */
#define A 0
#define B 1
#define NOTX 7          /* no transaction */

/* adversary budgets: how many times each fault may strike in one run */
#ifndef MAXELECT
#define MAXELECT 1      /* leadership changes A -> B */
#endif
#ifndef MAXCRASH
#define MAXCRASH 1      /* participant crashes (each restarts) */
#endif
#ifndef MAXLOSS
#define MAXLOSS 1       /* lost Prepare requests/replies, lost phase-two replies */
#endif
#ifndef MAXDUP
#define MAXDUP 1        /* late or duplicate deliveries of an old request */
#endif
#ifndef MAXCOLLECT
#define MAXCOLLECT 1    /* COLLECT entries */
#endif
#ifndef MAXRETRY
#define MAXRETRY 1      /* TWOSTEP: CommitTransaction retries after UNAVAILABLE */
#endif

#define ALLP ((1 << NPART) - 1)
#define ALLT ((1 << NTX) - 1)
#define BIT(x) (1 << (x))
#define IX(t,p) ((t)*NPART + (p))
#define NX(n,t) ((n)*NTX + (t))

/* enumerators: one do-option per transaction / node / participant */
#if NTX == 1
#define FOR_T(M) M(0)
#define FOR_NT(M) M(0,0) M(1,0)
#if NPART == 2
#define FOR_TP(M) M(0,0) M(0,1)
#else
#define FOR_TP(M) M(0,0) M(0,1) M(0,2)
#endif
#else
#define FOR_T(M) M(0) M(1)
#define FOR_NT(M) M(0,0) M(0,1) M(1,0) M(1,1)
#if NPART == 2
#define FOR_TP(M) M(0,0) M(0,1) M(1,0) M(1,1)
#else
#define FOR_TP(M) M(0,0) M(0,1) M(0,2) M(1,0) M(1,1) M(1,2)
#endif
#endif

/* ---------------------------------------------------------------- values */
/* TransactionState of a record (rec[t]) */
#define R_NONE      0   /* no record (never written, or collected) */
#define R_ACTIVE    1
#define R_PREPARING 2
#define R_COMMITTED 3
#define R_ABORTED   4
#define DECIDED(s) ((s) >= R_COMMITTED)
/* decisions share the values of the decided states */
#define D_NONE   0
#define D_COMMIT R_COMMITTED
#define D_ABORT  R_ABORTED
#define RES_TOOOLD 5    /* Result.Err = ErrTxTooOld: decided nothing, bound no key */

/* a branch in a record or a command: vote, then acknowledged */
#define V_ENL  0        /* ENLISTED: no vote known (RPC error, timeout, never sent) */
#define V_YES  1        /* PREPARED */
#define V_NO   2        /* VOTED_NO */
#define V_DONE 3        /* phase two acknowledged (COMMITTED / ABORTED) */
#define VOTE(v,p) (((v) >> (2*(p))) & 3)

/* a branch at its participant (client/participant/state.go) */
#define S_NONE 0        /* no record */
#define S_PREP 1        /* StatePrepared: voted YES, in doubt until told */
#define S_COMM 2        /* StateCommitted */
#define S_ABRT 3        /* StateAborted */
#define S_NO   4        /* StateVotedNo */
#define S_TOMB 5        /* StateTombstone: Abort before any Prepare */
#define ABORTEDST(s) ((s) >= S_ABRT)

/* client request state */
#define C_IDLE      0   /* ONESHOT: (re)send Execute; TWOSTEP: send Begin */
#define C_WAIT      1   /* waiting for driver (cwn, cw) */
#define C_DONE      2
#define C_COMMIT    3   /* TWOSTEP: (re)send CommitTransaction */
#define C_WAITBEGIN 4   /* TWOSTEP: Begin entry proposed */
#define C_WAITPREP  5   /* TWOSTEP: PREPARE entry proposed */

/* ----------------------------------------------------------------- state */
/* Raft and leadership */
byte leader = A;        /* the node Raft has made leader */
bit  ready[NN];         /* leadership.ready: barrier applied, ids may be minted */
byte elections;
bit  pbar;              /* B's post-election barrier entry, not yet applied */
byte recov[NN];         /* tx the recovery sweep (sweep(redrive=true)) still has to visit */

/* the FSM (every node applies the same sequence; this is its head) */
byte rec[NTX];          /* record state */
byte rb[NTX*NPART];     /* record branches: V_* */
bit  nobr[NTX];         /* record without branches (Resolve-abort of an unrecorded id) */
byte kb = NOTX;         /* key K's binding */
byte gcfloor;           /* gc_floor: highest mint index among collected records */
byte mintby[NTX];       /* 0: not minted; n+1: minted by node n, i.e. mint term
                           and mint index n+1 (B's barrier follows A's) */
byte nextid;            /* ids minted so far */

/* participants */
byte st[NTX*NPART];     /* durable branch state */
bit  down[NPART];
byte maxterm[NPART];    /* highest term seen (obligation 7) */
bit  rwait[NTX*NPART];  /* the resolver's Resolve is waiting for a leader's ABORT entry */
byte crashes;

/* drivers: one slot per node and tx (leadership.drivers) */
byte drv[NN*NTX];       /* 0 none, 1 phase one, 2 decision proposed, waiting, 3 finished */
byte asked[NN*NTX];     /* branches whose Prepare RPC has returned */
byte votes[NN*NTX];     /* votes collected, 2 bits per branch */
/* pending entries (proposed, not yet applied or dropped) */
byte pdo[NN*NTX];       /* driver DECIDE: outcome proposed (0: none pending) */
byte pdv[NN*NTX];       /*   and the votes it carries */
bit  pab[NN*NTX];       /* ABORT without branches (Resolve, reaper): see proposeAbort */
byte pabw[NN*NTX];      /*   its waiters: bit p = participant p's Resolve, bit NPART = reaper */
byte pack[NTX];         /* ACK batch */
bit  pcol;              /* COLLECT */
bit  pbeg;              /* TWOSTEP: BEGIN */
bit  pprep;             /* TWOSTEP: PREPARE */
byte pbegn, pprepn;     /*   their proposers */
/* phase two deliveries in progress (phase2.active) */
byte p2[NN*NTX];        /* branches still to deliver to */
byte p2d[NN*NTX];       /* the applied decision being delivered */

byte losses, dups, collects;
bit  expired;           /* TWOSTEP: the transaction's deadline has passed */

/* what was sent, so the network can deliver it again late (cleared once
   the duplicate budget is spent, so it stops splitting states) */
byte everP[NN*NTX];
byte everC[NTX];
byte everA[NTX];

/* the client */
byte cst;
byte cw = NOTX;         /* tx it waits for */
byte cwn;               /* on which node */
byte cretry;
byte toldTx = NOTX;     /* WHAT THE CLIENT WAS TOLD: transaction ... */
byte toldOut;           /* ... and its outcome (D_COMMIT, D_ABORT, RES_TOOOLD) */

/* ghosts (history, for the properties) */
byte dec0[NTX];         /* first decision ever applied for t */
byte kb0 = NOTX;        /* first binding ever of K */
byte yes[NTX];          /* participants that ever voted YES on t */
bit  alarm;             /* a participant refused a decision: atomicity alarm */

/* scratch, only used inside atomic steps: not part of the state vector */
hidden byte i, j, c, o, m, res, vr, dh, ro;
/* named results of the assertions made where the register or a branch is
   written (pan prints the name of a failed one) */
hidden byte decision_never_changes, key_binding_never_changes;
hidden byte atomicity, commit_only_after_all_yes_and_applied_commit,
           one_key_commits_at_most_one_tx, reply_is_applied_outcome_of_keys_binding,
           decision_and_binding_write_once, no_atomicity_alarm;


/* ---------------------------------------------------------- predicates */
#if NPART == 2
#define ALLYES(v) (VOTE(v,0) == V_YES && VOTE(v,1) == V_YES)
#define ENDED(x) ((x) >= V_NO)
#define COMPLETED(t) (nobr[t] || (ENDED(rb[IX(t,0)]) && ENDED(rb[IX(t,1)])))
#define SOMECOMM(t) (st[IX(t,0)] == S_COMM || st[IX(t,1)] == S_COMM)
#define SOMEABRT(t) (ABORTEDST(st[IX(t,0)]) || ABORTEDST(st[IX(t,1)]))
#define SOMEPREP(t) (st[IX(t,0)] == S_PREP || st[IX(t,1)] == S_PREP)
#else
#define ALLYES(v) (VOTE(v,0) == V_YES && VOTE(v,1) == V_YES && VOTE(v,2) == V_YES)
#define ENDED(x) ((x) >= V_NO)
#define COMPLETED(t) (nobr[t] || (ENDED(rb[IX(t,0)]) && ENDED(rb[IX(t,1)]) && ENDED(rb[IX(t,2)])))
#define SOMECOMM(t) (st[IX(t,0)] == S_COMM || st[IX(t,1)] == S_COMM || st[IX(t,2)] == S_COMM)
#define SOMEABRT(t) (ABORTEDST(st[IX(t,0)]) || ABORTEDST(st[IX(t,1)]) || ABORTEDST(st[IX(t,2)]))
#define SOMEPREP(t) (st[IX(t,0)] == S_PREP || st[IX(t,1)] == S_PREP || st[IX(t,2)] == S_PREP)
#endif
#define RUNNING(n,t) (drv[NX(n,t)] == 1 || drv[NX(n,t)] == 2)

/* ------------------------------------------------------------ the FSM */

/* state.bindIfUnbound: K binds once (write-once, design rule 5) */
inline bindKey(t) {
  if
  :: kb == NOTX ->
     key_binding_never_changes = (kb0 == NOTX || kb0 == t);
     assert(key_binding_never_changes);
     kb = t; kb0 = t
  :: else -> skip
  fi
}

/* setDecision: the register is written once (rule 2) */
inline writeDecision(t, d) {
  printf("MSC: register: T%d := %d (3 COMMITTED, 4 ABORTED); first decision ever: %d\n", t, d, dec0[t]);
  decision_never_changes = (dec0[t] == D_NONE || dec0[t] == d);
  assert(decision_never_changes);
  dec0[t] = d;
  rec[t] = d;
  dh = 1
}

/* raftlog/apply_decide.go: applyDecide(s, e, DecideCommand{t, out, votes,
 * key if keyed, branches if withbr}). res = the record's state after the
 * entry, or RES_TOOOLD. */
inline applyDecide(t, out, vv, keyed, withbr) {
  dh = 0;
  if
  :: rec[t] == R_NONE && mintby[t] <= gcfloor ->
     res = RES_TOOOLD                       /* minted at or below gc_floor */
  :: else ->
     c = (out == D_COMMIT);
     if
     :: rec[t] == R_NONE ->                 /* decideAbsent (one-shot path) */
#ifndef M_COMMIT_IGNORES_KEY
        if :: c && keyed && kb != NOTX && kb != t -> c = 0   /* IDEMPOTENCY_KEY_BOUND */
           :: else -> skip fi;
#endif
        if :: c && !(withbr && ALLYES(vv)) -> c = 0          /* COMMIT_WITHOUT_ALL_YES */
           :: else -> skip fi;
        j = 0;
        do
        :: j < NPART -> rb[IX(t,j)] = (withbr -> VOTE(vv,j) : V_ENL); j++
        :: else -> break
        od;
        nobr[t] = !withbr;
        writeDecision(t, (c -> D_COMMIT : D_ABORT))
     :: rec[t] == R_ACTIVE || rec[t] == R_PREPARING ->  /* decideOpen */
        /* commitVeto */
        if :: c && rec[t] == R_ACTIVE -> c = 0                /* COMMIT_OF_ACTIVE */
           :: else -> skip fi;
#ifndef M_COMMIT_IGNORES_KEY
        if :: c && keyed && kb != NOTX && kb != t -> c = 0   /* IDEMPOTENCY_KEY_BOUND */
           :: else -> skip fi;
#endif
        if :: c && !withbr -> c = 0                          /* BRANCH_LIST_MISMATCH */
           :: else -> skip fi;
        if :: c && !ALLYES(vv) -> c = 0                      /* COMMIT_WITHOUT_ALL_YES */
           :: else -> skip fi;
        /* a winning COMMIT copies the votes; an ABORT merges those it knows */
        j = 0;
        do
        :: j < NPART ->
           if :: withbr && VOTE(vv,j) != V_ENL -> rb[IX(t,j)] = VOTE(vv,j)
              :: else -> skip fi;
           j++
        :: else -> break
        od;
        writeDecision(t, (c -> D_COMMIT : D_ABORT))
     :: else ->                             /* decided: first decision wins */
        if
        :: rec[t] == R_ABORTED && nobr[t] && withbr ->  /* learnsBranches */
           j = 0;
           do
           :: j < NPART -> rb[IX(t,j)] = VOTE(vv,j); j++
           :: else -> break
           od;
           nobr[t] = 0
        :: else -> skip
        fi
     fi;
     /* noteDecisionKey: binds an unbound key even when the entry lost */
#ifdef M_LOSER_NO_BIND
     if :: keyed && dh -> bindKey(t) :: else -> skip fi;
#else
     if :: keyed -> bindKey(t) :: else -> skip fi;
#endif
     res = rec[t]
  fi;
  printf("MSC: APPLY DECIDE T%d proposed=%d keyed=%d branches=%d -> result=%d K->T%d gc_floor=%d\n",
         t, out, keyed, withbr, res, kb, gcfloor)
}

/* Retention window passed for t (what --retention > longest timeout +
 * margin and "participants back within the retention window" promise):
 * the caller no longer retries K, and no tx minted at or below t's mint
 * index still has a driver in phase one or a branch in doubt. In-flight
 * entries and paused handlers are NOT covered: gc_floor handles those. */
inline retentionOver(t) {
  ro = (cst == C_DONE);
  j = 0;
  do
  :: j < NTX ->
     if
     :: mintby[j] != 0 && mintby[j] <= mintby[t] &&
        (SOMEPREP(j) || drv[NX(A,j)] == 1 || drv[NX(B,j)] == 1) -> ro = 0
     :: else -> skip
     fi;
     j++
  :: else -> break
  od
}

/* raftlog/apply_phase2.go: applyCollect / collectable */
inline applyCollect() {
  i = 0;
  do
  :: i < NTX ->
     retentionOver(i);
#ifdef M_GC_EARLY
     ro = 1;                                /* collected before retention */
#endif
     if
     :: DECIDED(rec[i]) && (rec[i] == R_ABORTED || COMPLETED(i)) && ro ->
        printf("MSC: APPLY COLLECT T%d\n", i);
        rec[i] = R_NONE; nobr[i] = 0;
        j = 0;
        do :: j < NPART -> rb[IX(i,j)] = V_ENL; j++ :: else -> break od;
#ifndef M_GC_NOFLOOR
        if :: mintby[i] > gcfloor -> gcfloor = mintby[i] :: else -> skip fi;
#endif
        if :: kb == i -> kb = NOTX :: else -> skip fi;
        /* no Prepare of a tx this old is still on the wire */
        j = 0;
        do
        :: j < NTX ->
           if :: mintby[j] != 0 && mintby[j] <= mintby[i] -> everP[NX(A,j)] = 0; everP[NX(B,j)] = 0
              :: else -> skip fi;
           j++
        :: else -> break
        od
     :: else -> skip
     fi;
     i++
  :: else -> break
  od
}

/* raftlog/apply_phase2.go: applyAck / ackOne (ackFits holds: phase two
 * only acknowledges the applied decision) */
inline applyAck(t) {
  j = 0;
  do
  :: j < NPART ->
     if
     :: (pack[t] & BIT(j)) && DECIDED(rec[t]) && !ENDED(rb[IX(t,j)]) -> rb[IX(t,j)] = V_DONE
     :: else -> skip
     fi;
     j++
  :: else -> break
  od;
  pack[t] = 0
}

/* ----------------------------------------------------- participant kit */

/* client/participant/phase2.go: Kit.end -> planEnd/applyEnd for a Commit
 * (d == D_COMMIT) or an Abort / the resolver's obey. A FAILED_PRECONDITION
 * answer (UNKNOWN_BRANCH, BRANCH_ABORTED, BRANCH_COMMITTED) is an atomicity
 * alarm. */
inline kitEnd(p, t, d) {
  printf("MSC: P%d T%d told %d (3 COMMIT, 4 ABORT) in state %d\n", p, t, d, st[IX(t,p)]);
  if
  :: d == D_COMMIT ->
     if
     :: st[IX(t,p)] == S_PREP ->
        /* commit only after every YES and after the COMMIT applied */
        commit_only_after_all_yes_and_applied_commit = (dec0[t] == D_COMMIT && yes[t] == ALLP);
        assert(commit_only_after_all_yes_and_applied_commit);
        st[IX(t,p)] = S_COMM
     :: st[IX(t,p)] == S_COMM -> skip
     :: else -> alarm = 1
     fi
  :: d == D_ABORT ->
     if
     :: st[IX(t,p)] == S_NONE -> st[IX(t,p)] = S_TOMB  /* obligation 5 */
     :: st[IX(t,p)] == S_PREP -> st[IX(t,p)] = S_ABRT
     :: st[IX(t,p)] == S_COMM -> alarm = 1
     :: else -> skip
     fi
  :: else -> skip
  fi
}

/* client/participant/prepare.go: Kit.prepare (preparePlan, prepareTx,
 * recordVote, answerVoted). vr = the vote answered, 0 for an error. */
inline kitPrepare(p, t, term) {
  if
  :: st[IX(t,p)] == S_NONE ->
#ifndef M_NO_FENCING
     if
     :: term < maxterm[p] -> vr = 0;                  /* STALE_TERM, untouched */
        printf("MSC: P%d T%d Prepare(term %d): STALE_TERM\n", p, t, term)
     :: else ->
#endif
        if                                            /* the hook votes */
        :: st[IX(t,p)] = S_PREP; yes[t] = yes[t] | BIT(p); vr = V_YES;
           printf("MSC: P%d T%d Prepare(term %d): votes YES\n", p, t, term)
        :: st[IX(t,p)] = S_NO; vr = V_NO;
           printf("MSC: P%d T%d Prepare(term %d): votes NO\n", p, t, term)
        fi;
        if :: term > maxterm[p] -> maxterm[p] = term :: else -> skip fi
#ifndef M_NO_FENCING
     fi
#endif
  :: st[IX(t,p)] == S_TOMB ->                         /* tombstone: NO */
     st[IX(t,p)] = S_NO; vr = V_NO;
     if :: term > maxterm[p] -> maxterm[p] = term :: else -> skip fi
  :: st[IX(t,p)] == S_PREP ->
#ifdef M_PREPARE_FLIP
     if                                               /* re-runs the hook */
     :: vr = V_YES
     :: st[IX(t,p)] = S_NO; vr = V_NO;
        printf("MSC: P%d T%d repeated Prepare flips YES to NO\n", p, t)
     fi
#else
     vr = V_YES                                       /* the recorded vote */
#endif
  :: st[IX(t,p)] == S_COMM || st[IX(t,p)] == S_ABRT -> vr = V_YES
  :: st[IX(t,p)] == S_NO -> vr = V_NO
  fi
}

/* ------------------------------------------------------ coordinator */

/* the client's request ends with an answer */
inline tell(tx, out) {
  if
  :: cst == C_WAIT -> toldTx = tx; toldOut = out; cst = C_DONE;
     printf("MSC: CLIENT is told T%d outcome %d (3 COMMITTED, 4 ABORTED, 5 TX_TOO_OLD)\n", tx, out)
  :: else -> skip
  fi
}

/* phase2.start(tx): deliver the applied decision of t (read from the
 * register) to every branch that needs it (needsPhaseTwo), unless a
 * delivery for t already runs on this node. */
inline p2start(n, t) {
  if
  :: p2[NX(n,t)] == 0 && DECIDED(rec[t]) && !COMPLETED(t) ->
     m = 0; j = 0;
     do
     :: j < NPART ->
        if
        :: rb[IX(t,j)] == V_YES || (rec[t] == D_ABORT && rb[IX(t,j)] == V_ENL) -> m = m | BIT(j)
        :: else -> skip
        fi;
        j++
     :: else -> break
     od;
     p2[NX(n,t)] = m; p2d[NX(n,t)] = rec[t]
  :: else -> skip
  fi
}

/* only for the mutants that act on a proposal: deliver `d` to the
 * branches the driver knows as YES or ENLISTED */
inline p2fromVotes(n, t, d) {
  m = 0; j = 0;
  do
  :: j < NPART ->
     if :: VOTE(votes[NX(n,t)], j) != V_NO -> m = m | BIT(j) :: else -> skip fi;
     j++
  :: else -> break
  od;
  p2[NX(n,t)] = m; p2d[NX(n,t)] = d
}

/* driver.go: leadership.startDriver (one driver per tx per leadership);
 * the VerifyLeader before the first Prepare holds: callers run on the
 * leader. */
inline startDriver(n, t) {
  printf("MSC: NODE %d starts the driver of T%d\n", n, t);
  drv[NX(n,t)] = 1; asked[NX(n,t)] = 0; votes[NX(n,t)] = 0
}

/* the driver's caller is told what its Propose failed with:
 * UNAVAILABLE OUTCOME_UNKNOWN; it retries (rule 3) */
inline failDriver(n, t, out) {
  printf("MSC: NODE %d T%d: Propose failed: OUTCOME_UNKNOWN\n", n, t);
#ifdef M_ABORT_ON_FAIL
  p2fromVotes(n, t, D_ABORT);                 /* aborts after a failed Apply */
  if :: cw == t && cwn == n -> tell(t, D_ABORT) :: else -> skip fi;
#endif
  if
  :: cst == C_WAIT && cw == t && cwn == n ->
#ifdef TWOSTEP
     if :: cretry < MAXRETRY -> cretry++; cst = C_COMMIT :: else -> cst = C_DONE fi
#else
     cst = C_IDLE
#endif
  :: else -> skip
  fi;
  asked[NX(n,t)] = 0; votes[NX(n,t)] = 0
}

/* driver.go: drive, after Propose returned a Result (res): reply with
 * what Apply returned (txservice.go: answer) and start phase two. */
inline driverResult(n, t, out) {
  if
  :: cw == t && cwn == n ->
     if
     :: res == RES_TOOOLD -> tell(t, RES_TOOOLD)         /* FAILED_PRECONDITION TX_TOO_OLD */
     :: else ->
#if defined(M_REPLY_PROPOSED)
        tell(t, out)                                     /* replies with the proposal */
#elif defined(TWOSTEP)
        tell(t, rec[t])                                  /* commit: d.res.Tx */
#else
        if                                               /* answer(): the key's binding */
        :: kb != NOTX -> tell(kb, rec[kb])
        :: else -> tell(t, rec[t])
        fi
#endif
     fi
  :: else -> skip
  fi;
  if :: res != RES_TOOOLD -> p2start(n, t) :: else -> skip fi;
  drv[NX(n,t)] = 3; asked[NX(n,t)] = 0; votes[NX(n,t)] = 0
}

/* driver.go: prepareAll -> prepareOne for branch p: one Prepare RPC */
inline prepareRPC(n, t, p) {
  asked[NX(n,t)] = asked[NX(n,t)] | BIT(p);
  if :: dups < MAXDUP -> everP[NX(n,t)] = everP[NX(n,t)] | BIT(p) :: else -> skip fi;
  if
  :: down[p] -> skip                                  /* RPC error: ENLISTED */
  :: !down[p] ->
     kitPrepare(p, t, n+1);
     if
     :: votes[NX(n,t)] = votes[NX(n,t)] | (vr << (2*p))
     :: losses < MAXLOSS -> losses++                  /* reply lost: ENLISTED */
     fi
  :: !down[p] && losses < MAXLOSS -> losses++         /* request lost (may arrive late) */
  fi
}

/* driver.go: drive -> Propose(DecideCommand). The first NO or failure
 * decides ABORT (prepareAll). */
inline proposeDecision(n, t) {
  o = (ALLYES(votes[NX(n,t)]) -> D_COMMIT : D_ABORT);
  printf("MSC: NODE %d T%d votes %d, proposes %d (leader is %d)\n", n, t, votes[NX(n,t)], o, leader);
  if
  :: n != leader ->                                   /* ErrNotLeader */
     drv[NX(n,t)] = 3; failDriver(n, t, o)
  :: else ->
     pdo[NX(n,t)] = o; pdv[NX(n,t)] = votes[NX(n,t)]; drv[NX(n,t)] = 2;
#ifdef M_KEYED_ABORT_EARLY
     if :: o == D_ABORT && cw == t && cwn == n -> tell(t, D_ABORT) :: else -> skip fi;
#endif
#ifdef M_ABORT_UNAPPLIED
     if :: o == D_ABORT -> p2fromVotes(n, t, D_ABORT) :: else -> skip fi;
#endif
     skip
  fi
}

/* recovery.go / txcommit.go: proposeAbort, and resolve.go's ABORT for an
 * unrecorded id: an ABORT without branches, with waiters w. proposeAbort
 * carries the record's key (recordPlan); the Resolve-abort of an unrecorded
 * id carries none. In ONESHOT every such ABORT is for an unrecorded id (a
 * one-shot record is born decided); in TWOSTEP every one is for the
 * recorded, keyed T0. */
#ifdef TWOSTEP
#define PAB_KEYED 1
#else
#define PAB_KEYED 0
#endif
inline proposeAbort(n, t, w) {
  printf("MSC: NODE %d proposes a bare ABORT of T%d\n", n, t);
  pab[NX(n,t)] = 1; pabw[NX(n,t)] = pabw[NX(n,t)] | w
}

/* phase2.go: deliver -> sendDecision to branch p (one RPC) */
inline deliver(n, t, p) {
  if
  :: dups < MAXDUP && p2d[NX(n,t)] == D_COMMIT -> everC[t] = everC[t] | BIT(p)
  :: dups < MAXDUP && p2d[NX(n,t)] == D_ABORT -> everA[t] = everA[t] | BIT(p)
  :: else -> skip
  fi;
  kitEnd(p, t, p2d[NX(n,t)]);
  if
  :: losses < MAXLOSS -> losses++                     /* reply lost: retried */
  :: true ->
     p2[NX(n,t)] = p2[NX(n,t)] & (~BIT(p));
     /* runAcks: the acknowledgement is logged (a lost batch only means the
        reaper delivers again, which the model has as the sweep) */
     if :: n == leader -> pack[t] = BIT(p); applyAck(t) :: else -> skip fi
  fi
}

/* resolve.go: txService.ResolveTransaction from participant p about t */
#define RESOLVE_BLOCKED(t) \
  (rec[t] == R_NONE && mintby[t] > gcfloor && mintby[t] == leader+1 && RUNNING(leader,t))
inline resolveRPC(p, t) {
  if
  :: dec0[t] != D_NONE ->
     /* a decided record answers from any node's applied state, a stale
        replica's included: its prefix holds the decision */
     kitEnd(p, t, dec0[t])
  :: ready[leader] && !RESOLVE_BLOCKED(t) ->
     /* the leader: leadership.resolve / resolveRecorded */
     if
     :: DECIDED(rec[t]) -> kitEnd(p, t, rec[t])
     :: rec[t] == R_ACTIVE || rec[t] == R_PREPARING ->
        if
        :: expired -> rwait[IX(t,p)] = 1; proposeAbort(leader, t, BIT(p))
        :: else -> skip                              /* retry_after */
        fi
     :: rec[t] == R_NONE && mintby[t] <= gcfloor -> skip   /* TX_FORGOTTEN */
     :: rec[t] == R_NONE && mintby[t] > gcfloor ->
        /* minted in another term, or here with no driver running */
#if defined(M_RESOLVE_NOWRITE)
        kitEnd(p, t, D_ABORT)                        /* ABORTED, nothing written */
#elif defined(M_RESOLVE_RETRY)
        skip                                         /* "ask again later", forever */
#else
        rwait[IX(t,p)] = 1; proposeAbort(leader, t, BIT(p))
#endif
     fi
  fi
}

/* ----------------------------------------------------------- processes */

/* raftlog.Node.Propose / FSM.Apply and hashicorp/raft's elections. An
 * entry applies at any later point or never; its proposer learns the
 * Result, or (once deposed) an error: ErrLeadershipLost, outcome unknown.
 * The order is freer than Raft's (an old term's entry may apply after a
 * newer term's): the register must not need Raft's ordering. */
#define OPT_APPLY_PD(n,t) \
  :: atomic { pdo[NX(n,t)] != 0 && !STALE_ENTRY(n) -> \
       o = pdo[NX(n,t)]; applyDecide(t, o, pdv[NX(n,t)], 1, 1); \
       pdo[NX(n,t)] = 0; pdv[NX(n,t)] = 0; \
       if :: drv[NX(n,t)] == 2 -> driverResult(n, t, o) :: else -> skip fi }
#define OPT_FAIL_PD(n,t) \
  :: atomic { drv[NX(n,t)] == 2 && n != leader -> \
       drv[NX(n,t)] = 3; failDriver(n, t, pdo[NX(n,t)]) }
#define OPT_DROP_PD(n,t) \
  :: atomic { pdo[NX(n,t)] != 0 && n != leader && drv[NX(n,t)] != 2 -> \
       pdo[NX(n,t)] = 0; pdv[NX(n,t)] = 0 }
#define OPT_APPLY_PAB(n,t) \
  :: atomic { pab[NX(n,t)] && !STALE_ENTRY(n) -> \
       applyDecide(t, D_ABORT, 0, PAB_KEYED, 0); pab[NX(n,t)] = 0; \
       i = 0; \
       do \
       :: i < NPART -> \
          if \
          :: (pabw[NX(n,t)] & BIT(i)) && rwait[IX(t,i)] -> \
             rwait[IX(t,i)] = 0; \
             if :: res != RES_TOOOLD -> kitEnd(i, t, res) :: else -> skip fi \
          :: else -> skip \
          fi; \
          i++ \
       :: else -> break \
       od; \
       if :: pabw[NX(n,t)] != 0 && res != RES_TOOOLD -> p2start(n, t) :: else -> skip fi; \
       pabw[NX(n,t)] = 0 }
#define OPT_FAIL_PAB(n,t) \
  :: atomic { pabw[NX(n,t)] != 0 && n != leader -> \
       i = 0; \
       do \
       :: i < NPART -> if :: pabw[NX(n,t)] & BIT(i) -> rwait[IX(t,i)] = 0 :: else -> skip fi; i++ \
       :: else -> break \
       od; \
       pabw[NX(n,t)] = 0 }
#define OPT_DROP_PAB(n,t) \
  :: atomic { pab[NX(n,t)] && pabw[NX(n,t)] == 0 && n != leader -> pab[NX(n,t)] = 0 }

/* -DSTRICT_RAFT: Raft's own order instead. An old term's entry applies
 * before the new leader's barrier or never, and a deposed proposer never
 * learns its entry's fate (ErrLeadershipLost at step-down). */
#ifdef STRICT_RAFT
#define STALE_ENTRY(n) ((n) == A && ready[B])
#define STEP_DOWN_FAILS_WAITERS \
  i = 0; \
  do \
  :: i < NTX -> \
     if :: drv[NX(A,i)] == 2 -> drv[NX(A,i)] = 3; failDriver(A, i, pdo[NX(A,i)]) :: else -> skip fi; \
     j = 0; \
     do \
     :: j < NPART -> if :: pabw[NX(A,i)] & BIT(j) -> rwait[IX(i,j)] = 0 :: else -> skip fi; j++ \
     :: else -> break \
     od; \
     pabw[NX(A,i)] = 0; i++ \
  :: else -> break \
  od
#else
#define STALE_ENTRY(n) 0
#define STEP_DOWN_FAILS_WAITERS skip
#endif

active proctype Raft() {
end:
  do
  FOR_NT(OPT_APPLY_PD)
  FOR_NT(OPT_FAIL_PD)
  FOR_NT(OPT_DROP_PD)
  FOR_NT(OPT_APPLY_PAB)
  FOR_NT(OPT_FAIL_PAB)
  FOR_NT(OPT_DROP_PAB)
  :: atomic { pcol -> applyCollect(); pcol = 0 }
  /* leader.go: barrier -> ready, then recover */
  :: atomic { pbar -> pbar = 0; ready[B] = 1; recov[B] = ALLT;
       printf("MSC: B's barrier applied: B is ready\n") }
  /* an election: B leads (term 2), A is deposed but keeps running */
  :: atomic { elections < MAXELECT && leader == A -> elections++; leader = B; pbar = 1;
       STEP_DOWN_FAILS_WAITERS;
       printf("MSC: ELECTION: B leads (term 2); A is deposed but keeps running\n") }
#ifdef TWOSTEP
  /* apply_tx.go: applyBegin (binds K) */
  :: atomic { pbeg ->
       pbeg = 0;
       if
       :: rec[0] == R_NONE && kb == NOTX && mintby[0] > gcfloor ->
          rec[0] = R_ACTIVE; bindKey(0);
          if :: cst == C_WAITBEGIN -> cst = C_COMMIT :: else -> skip fi
       :: else -> if :: cst == C_WAITBEGIN -> cst = C_DONE :: else -> skip fi
       fi }
  :: atomic { cst == C_WAITBEGIN && pbegn != leader -> cst = C_DONE }   /* Begin failed */
  :: atomic { pbeg && pbegn != leader && cst != C_WAITBEGIN -> pbeg = 0 }
  /* apply_tx.go: applyPrepare; txcommit.go: commit() goes on with the record */
  :: atomic { pprep ->
       pprep = 0;
       if :: rec[0] == R_ACTIVE -> rec[0] = R_PREPARING :: else -> skip fi;
       if
       :: cst == C_WAITPREP ->
          if
          :: DECIDED(rec[0]) -> cst = C_WAIT; cw = 0; cwn = pprepn; tell(0, rec[0])
          :: rec[0] == R_NONE -> cst = C_DONE
          :: rec[0] == R_PREPARING && RUNNING(pprepn, 0) -> cst = C_WAIT; cw = 0; cwn = pprepn
          :: rec[0] == R_PREPARING && !RUNNING(pprepn, 0) && pdo[NX(pprepn,0)] == 0 ->
             startDriver(pprepn, 0); cst = C_WAIT; cw = 0; cwn = pprepn
          :: rec[0] == R_PREPARING && !RUNNING(pprepn, 0) && pdo[NX(pprepn,0)] != 0 ->
             cst = C_COMMIT
          fi
       :: else -> skip
       fi }
  :: atomic { cst == C_WAITPREP && pprepn != leader ->
       if :: cretry < MAXRETRY -> cretry++; cst = C_COMMIT :: else -> cst = C_DONE fi }
  :: atomic { pprep && pprepn != leader && cst != C_WAITPREP -> pprep = 0 }
#endif
  od
}

/* server/: node n's leader duties (and what its goroutines still do after
 * it was deposed) */
/* drive: the Prepares fan out in parallel and the decision is proposed
 * once every RPC has returned (a vote, an error, a timeout). A Prepare that
 * is lost on the way may still arrive later (OPT_DUP_PREPARE). */
#define OPT_DRIVE(t) \
  :: atomic { drv[NX(n,t)] == 1 -> \
       if \
       :: mintby[t] <= gcfloor -> /* the entry would be TX_TOO_OLD: prepare nothing */ \
          drv[NX(n,t)] = 3; \
          if :: cw == t && cwn == n -> tell(t, RES_TOOOLD) :: else -> skip fi \
       :: else -> \
          i = 0; \
          do \
          :: i < NPART -> prepareRPC(n, t, i); i++ \
          :: else -> break \
          od; \
          proposeDecision(n, t) \
       fi }
#define OPT_DELIVER(t,p) \
  :: atomic { (p2[NX(n,t)] & BIT(p)) && !down[p] -> deliver(n, t, p) }
#define OPT_SWEEP(t) \
  :: atomic { n == leader && ready[n] && DECIDED(rec[t]) && !COMPLETED(t) && p2[NX(n,t)] == 0 -> \
       p2start(n, t) }
#define OPT_REAP(t) \
  :: atomic { n == leader && ready[n] && expired && !pab[NX(n,t)] && !RUNNING(n,t) && \
              (rec[t] == R_ACTIVE || rec[t] == R_PREPARING) -> \
       proposeAbort(n, t, BIT(NPART)) }
#define OPT_RECOVER(t) \
  :: atomic { n == leader && ready[n] && (recov[n] & BIT(t)) -> \
       recov[n] = recov[n] & (~BIT(t)); \
       if \
       :: rec[t] == R_PREPARING && !expired && !RUNNING(n,t) && pdo[NX(n,t)] == 0 -> startDriver(n, t) \
       :: else -> skip \
       fi }

proctype Node(byte n) {
end:
  do
  FOR_T(OPT_DRIVE)
  FOR_TP(OPT_DELIVER)
  FOR_T(OPT_SWEEP)
#ifdef TWOSTEP
  FOR_T(OPT_REAP)
  FOR_T(OPT_RECOVER)
#endif
  :: atomic { n == leader && ready[n] && !pcol && collects < MAXCOLLECT -> pcol = 1; collects++ }
  od
}

/* client/participant: one participant's kit.
 * A crash loses what is volatile (the resolver's in-flight Resolve; the
 * kit's Start reloads every prepared branch and asks again) and keeps the
 * bbolt store. By default the restart is immediate: RPCs that would have
 * failed while it was down are the lost messages of MAXLOSS. With
 * -DMAXCRASHDOWN=1 it stays down for a while (a bigger state space). */
#ifndef MAXCRASHDOWN
#define MAXCRASHDOWN 0
#endif
#if NTX == 1
#define ANYRWAIT(p) (rwait[IX(0,p)])
#else
#define ANYRWAIT(p) (rwait[IX(0,p)] || rwait[IX(1,p)])
#endif
#define OPT_RESOLVE(t) \
  :: atomic { !down[p] && st[IX(t,p)] == S_PREP && !rwait[IX(t,p)] && \
              (dec0[t] != D_NONE || (ready[leader] && !RESOLVE_BLOCKED(t))) -> \
       resolveRPC(p, t) }
#define OPT_DUP_PREPARE(n,t) \
  :: atomic { !down[p] && dups < MAXDUP && (everP[NX(n,t)] & BIT(p)) -> \
       dups++; kitPrepare(p, t, n+1); DUPS_SPENT }
#define OPT_DUP_COMMIT(t) \
  :: atomic { !down[p] && dups < MAXDUP && (everC[t] & BIT(p)) -> \
       dups++; kitEnd(p, t, D_COMMIT); DUPS_SPENT }
#define OPT_DUP_ABORT(t) \
  :: atomic { !down[p] && dups < MAXDUP && (everA[t] & BIT(p)) -> \
       dups++; kitEnd(p, t, D_ABORT); DUPS_SPENT }
#define OPT_LONE_YES(t) \
  :: atomic { !down[p] && st[IX(t,p)] == S_PREP -> st[IX(t,p)] = S_COMM }
/* once no duplicate may happen any more, forget what was sent */
#if NTX == 1
#define DUPS_SPENT if :: dups >= MAXDUP -> everP[0] = 0; everP[1] = 0; everC[0] = 0; everA[0] = 0 :: else -> skip fi
#else
#define DUPS_SPENT if :: dups >= MAXDUP -> everP[0] = 0; everP[1] = 0; everP[2] = 0; everP[3] = 0; \
                        everC[0] = 0; everC[1] = 0; everA[0] = 0; everA[1] = 0 :: else -> skip fi
#endif

proctype Participant(byte p) {
end:
  do
  /* in doubt: resolver.resolve asks, obey ends the branch */
  FOR_T(OPT_RESOLVE)
  /* crash and restart: the branch store is durable; the in-flight Resolve
     is lost and loadPrepared asks again */
  :: atomic { crashes < MAXCRASH && (ANYRWAIT(p) || MAXCRASHDOWN) ->
       crashes++;
       j = 0; do :: j < NTX -> rwait[IX(j,p)] = 0; j++ :: else -> break od;
       down[p] = MAXCRASHDOWN }
  :: atomic { down[p] -> down[p] = 0 }
  /* the network delivers an old Prepare / Commit / Abort again */
  FOR_NT(OPT_DUP_PREPARE)
  FOR_T(OPT_DUP_COMMIT)
  FOR_T(OPT_DUP_ABORT)
#ifdef M_LONE_YES
  FOR_T(OPT_LONE_YES)             /* commits on its own YES */
#endif
  od
}

/* the SDK caller */
proctype Client() {
end:
  do
#ifndef TWOSTEP
  /* ExecuteTransaction on the leader: leadership.execute. A bound key
     answers with its binding (boundTx); else mint an id after the barrier
     and start its driver. (The join of an in-flight attempt with the same
     key is left out: design rule 5 says safety must not need it.) */
  :: atomic { cst == C_IDLE && ready[leader] ->
       if
       :: kb != NOTX && rec[kb] != R_NONE -> cst = C_WAIT; tell(kb, rec[kb])
       :: else ->
          if
          :: nextid < NTX ->
             mintby[nextid] = leader + 1; startDriver(leader, nextid);
             cw = nextid; cwn = leader; cst = C_WAIT; nextid++
          :: else -> cst = C_DONE                   /* out of ids: gives up */
          fi
       fi }
#else
  /* BeginTransaction(K) */
  :: atomic { cst == C_IDLE && ready[leader] ->
       nextid = 1; mintby[0] = leader + 1; pbeg = 1; pbegn = leader; cst = C_WAITBEGIN }
  /* CommitTransaction: leadership.commit */
  :: atomic { cst == C_COMMIT && ready[leader] ->
       if
       :: DECIDED(rec[0]) -> cst = C_WAIT; tell(0, rec[0])
       :: rec[0] == R_NONE -> cst = C_DONE                  /* NOT_FOUND / TX_TOO_OLD */
       :: !DECIDED(rec[0]) && rec[0] != R_NONE && RUNNING(leader, 0) ->
          cst = C_WAIT; cw = 0; cwn = leader                /* joins the driver */
       :: rec[0] == R_ACTIVE && !RUNNING(leader, 0) ->
          pprep = 1; pprepn = leader; cst = C_WAITPREP
       :: rec[0] == R_PREPARING && !RUNNING(leader, 0) && pdo[NX(leader,0)] == 0 ->
          startDriver(leader, 0); cst = C_WAIT; cw = 0; cwn = leader
       :: rec[0] == R_PREPARING && !RUNNING(leader, 0) && pdo[NX(leader,0)] != 0 ->
          cst = C_DONE
       fi }
#endif
  od
}

#ifdef TWOSTEP
/* time: the transaction's deadline passes */
proctype Clock() {
  atomic { !expired -> expired = 1 }
}
#endif

/* ----------------------------------------------------------- properties */

#if NPART == 2
#define COMMIT_OK(t) ((st[IX(t,0)] != S_COMM && st[IX(t,1)] != S_COMM) || \
                      (dec0[t] == D_COMMIT && yes[t] == ALLP))
#else
#define COMMIT_OK(t) ((st[IX(t,0)] != S_COMM && st[IX(t,1)] != S_COMM && st[IX(t,2)] != S_COMM) || \
                      (dec0[t] == D_COMMIT && yes[t] == ALLP))
#endif
/* 1. atomicity: no branch committed while another is aborted */
#define ATOMIC_OK(t) (!(SOMECOMM(t) && SOMEABRT(t)))
/* what the client was told is the applied outcome of the transaction its
   key is bound to (rule 5: answered only with the key's binding); with the
   write-once register this makes it K's final outcome */
#define TOLD_OK ((toldOut != D_COMMIT && toldOut != D_ABORT) || \
                 (toldTx == kb0 && dec0[toldTx] == toldOut))
#if NTX == 1
#define KEY_ONCE 1
#define INV_T (ATOMIC_OK(0) && COMMIT_OK(0))
#else
/* one key commits at most one transaction */
#define KEY_ONCE (!(dec0[0] == D_COMMIT && dec0[1] == D_COMMIT))
#define INV_T (ATOMIC_OK(0) && COMMIT_OK(0) && ATOMIC_OK(1) && COMMIT_OK(1))
#endif
/* write-once, as a state predicate over the ghosts: the register holds the
   first decision ever applied (or nothing, once collected) and K's binding
   is its first binding (or nothing) */
#if NTX == 1
#define WRITEONCE ((!DECIDED(rec[0]) || rec[0] == dec0[0]) && (kb == NOTX || kb == kb0))
#else
#define WRITEONCE ((!DECIDED(rec[0]) || rec[0] == dec0[0]) && (!DECIDED(rec[1]) || rec[1] == dec0[1]) && \
                   (kb == NOTX || kb == kb0))
#endif
#define INV (INV_T && KEY_ONCE && TOLD_OK && WRITEONCE && !alarm)

/* the invariant as assertions, checked in every reachable state: the
   monitor only moves when INV breaks, and then names the broken part */
active proctype Monitor() {
end:
  atomic { !(INV) ->
#if NTX == 1
    atomicity = ATOMIC_OK(0);
    commit_only_after_all_yes_and_applied_commit = COMMIT_OK(0);
#else
    atomicity = (ATOMIC_OK(0) && ATOMIC_OK(1));
    commit_only_after_all_yes_and_applied_commit = (COMMIT_OK(0) && COMMIT_OK(1));
#endif
    one_key_commits_at_most_one_tx = KEY_ONCE;
    reply_is_applied_outcome_of_keys_binding = TOLD_OK;
    decision_and_binding_write_once = WRITEONCE;
    no_atomicity_alarm = !alarm;
    assert(atomicity);
    assert(commit_only_after_all_yes_and_applied_commit);
    assert(one_key_commits_at_most_one_tx);
    assert(reply_is_applied_outcome_of_keys_binding);
    assert(decision_and_binding_write_once);
    assert(no_atomicity_alarm)
  }
}

/* the same invariant as LTL (checked with ./pan -N inv) */
ltl inv { [] (INV) }

/* write-once on the register itself, without ghosts: a decided record
   never takes the other value, even after it was collected; K never
   moves to another transaction (./pan -N writeonce) */
#define WO(t) ([] ((rec[t] == R_COMMITTED) -> [] (rec[t] != R_ABORTED)) && \
               [] ((rec[t] == R_ABORTED) -> [] (rec[t] != R_COMMITTED)))
#if NTX == 1
ltl writeonce { WO(0) }
#else
ltl writeonce { WO(0) && WO(1) && [] ((kb == 0) -> [] (kb != 1)) && [] ((kb == 1) -> [] (kb != 0)) }
#endif

/* liveness: under weak fairness, once the faults (elections, crashes,
   losses, duplicates: all bounded) have stopped, every prepared branch
   learns the decision */
#define LEARNS(t,p) ([] ((st[IX(t,p)] == S_PREP) -> <> (st[IX(t,p)] == S_COMM || st[IX(t,p)] == S_ABRT)))
#if NTX == 1 && NPART == 2
ltl live { LEARNS(0,0) && LEARNS(0,1) }
#elif NTX == 1
ltl live { LEARNS(0,0) && LEARNS(0,1) && LEARNS(0,2) }
#elif NPART == 2
ltl live { LEARNS(0,0) && LEARNS(0,1) && LEARNS(1,0) && LEARNS(1,1) }
#else
ltl live { LEARNS(0,0) && LEARNS(0,1) && LEARNS(0,2) && LEARNS(1,0) && LEARNS(1,1) && LEARNS(1,2) }
#endif

init {
  atomic {
    ready[A] = 1;
#if defined(TWOSTEP) && !defined(WITHBEGIN)
    /* BeginTransaction(K) has returned: A minted T0, its ACTIVE entry
       applied and bound K (apply_tx.go: applyBegin). -DWITHBEGIN models
       the Begin call too. */
    nextid = 1; mintby[0] = A + 1; rec[0] = R_ACTIVE; kb = 0; kb0 = 0; cst = C_COMMIT;
#endif
    run Node(A); run Node(B);
    i = 0;
    do
    :: i < NPART -> run Participant(i); i++
    :: else -> break
    od;
    run Client();
#ifdef TWOSTEP
    run Clock();
#endif
    i = 0
  }
}
