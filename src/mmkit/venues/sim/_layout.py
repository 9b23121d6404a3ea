"""Column layout and integer codes shared by the simulated exchange's kernels and wrappers.

The matching state is a handful of plain numpy arrays (see :mod:`mmkit.venues.sim.state`) so
that numba kernels can be cached and called both from Python and from other kernels (the
backtest loop). Module-level integers are compile-time constants for numba.
"""

from __future__ import annotations

# -- market event kinds (column ``kind`` of the market arrays) ----------------------------
EV_DEPTH = 1  # L2: the level (side, px) now holds sz (0 deletes it)
EV_TRADE = 2  # a market trade; side = aggressor (+1 bought, -1 sold)
EV_L3_ADD = 3  # L3: an order of size sz joined level (side, px)
EV_L3_CANCEL = 4  # L3: sz left level (side, px); ref = index of the order's add event
EV_L3_EXEC = 5  # L3: sz of a resting order at (side, px) executed; ref as above

# -- action kinds ---------------------------------------------------------------------------
A_PLACE = 1
A_MODIFY = 2
A_CANCEL = 3
A_CANCEL_ALL = 4
A_ECHO = 5  # a query answered by the wrapper at the exchange time it is processed

# -- time in force --------------------------------------------------------------------------
TIF_ALO = 0
TIF_GTC = 1
TIF_IOC = 2

# -- record (output) types --------------------------------------------------------------------
REC_RESULT = 1  # answer to an action: code = outcome, reason
REC_ORDER = 2  # an order's state changed: code = status
REC_FILL = 3  # one of our orders traded
REC_ECHO = 4  # an A_ECHO action reached the exchange

# -- outcomes (REC_RESULT code) -------------------------------------------------------------
OUT_RESTING = 1
OUT_FILLED = 2
OUT_CANCELED = 3
OUT_REJECTED = 4

# -- order statuses (REC_ORDER code) ----------------------------------------------------------
ST_OPEN = 1
ST_FILLED = 2
ST_CANCELED = 3
ST_OTHER_CANCELED = 4  # cancelled by the venue, not by us (only the venue-side event API)

# -- reject reasons (REC_RESULT reason; REC_RESULT sub = inner reason of a failed modify) ----
R_NONE = 0
R_POST_ONLY = 1
R_IOC_NO_MATCH = 2
R_REDUCE_ONLY = 3
R_MIN_NOTIONAL = 4
R_INVALID_PRICE = 5
R_INVALID_SIZE = 6
R_ORDER_GONE = 7
R_MODIFY_GONE = 8
R_MODIFY_PLACE_FAILED = 9
R_OPEN_ORDER_CAP = 10
R_PRICE_TOO_FAR = 11

# -- queue models (SI_QMODEL) -----------------------------------------------------------------
Q_POWER = 0  # share of a size decrease ahead of us = f(front) / (f(front) + f(back)), f = x**n
Q_LOG = 1  # same with f = log(1 + x)
Q_RISK_AVERSE = 2  # cancellations never advance us; only trades do
Q_FRONT = 3  # we stand first at our level (nothing ahead): the optimistic bound

# -- latency models (SI_LAT_MODEL) ------------------------------------------------------------
LAT_CONSTANT = 0
LAT_EXPONENTIAL = 1  # base + Exp(mean = jitter * base)
LAT_LOGNORMAL = 2  # base * exp(jitter * N(0, 1))

# -- scalar int state ``si`` -----------------------------------------------------------------
SI_BASE = 0  # absolute tick index of grid column 0
SI_NT = 1  # number of grid columns (ticks)
SI_BB = 2  # best bid column, -1 when the bid side is empty
SI_BA = 3  # best ask column, NT when the ask side is empty
SI_NORD = 4  # resting orders (rows 0..NORD-1 of the order arrays, in time priority)
SI_NEXT_OID = 5
SI_NREC = 6  # records written since the last drain
SI_AHEAD = 7  # pending-action ring: index of the oldest
SI_ACOUNT = 8  # pending-action ring: how many
SI_NOW = 9  # exchange clock (ns)
SI_LAST_ARR = 10  # latest arrival time handed out (the entry channel is FIFO)
SI_LAST_RESP = 11  # latest response time handed out (the response channel is FIFO)
SI_LAST_FEED = 12  # latest market-data local time handed out (the feed is FIFO)
SI_LAT_MODEL = 13
SI_QMODEL = 14
SI_MIDX = 15  # index of the market event being applied (L3 FIFO compares add indices)
SI_ENTRY_LAT = 16  # ns
SI_RESP_LAT = 17  # ns
SI_FEED_LAT = 18  # ns
SI_NFILLS = 19  # fills since start (fill ids)
SI_DIRTY = 20  # an order was filled during the current step (compact the order rows)
SI_SIZE = 21

# -- scalar float state ``sf`` -------------------------------------------------------------------
SF_TICK = 0
SF_INV_TICK = 1
SF_MAKER_FEE = 2
SF_TAKER_FEE = 3
SF_POSITION = 4
SF_CASH = 5  # minus signed notional of every fill, minus fees
SF_FEES = 6  # fees paid (negative = rebates received)
SF_VOLUME = 7  # traded notional
SF_QPOWER = 8
SF_JITTER = 9
SF_MIN_NOTIONAL = 10  # 0 disables the check
SF_LOT = 11  # 0 disables the size-step check
SF_EPS = 12  # sizes at or below this are zero
SF_SIZE = 13

# -- order rows: ``oi`` (int64) and ``of`` (float64) columns --------------------------------------
OI_OID = 0
OI_CID = 1  # client id (the wrapper's integer for a cloid), -1 when none
OI_SIDE = 2  # +1 buy, -1 sell
OI_PXI = 3  # grid column of the price
OI_TIF = 4
OI_REQ = 5  # request id of the action that placed it
OI_MSEQ = 6  # market event index when it reached the book (L3 FIFO)
OI_TS = 7  # exchange time it reached the book
OI_SIZE = 8

OF_PX = 0
OF_REM = 1  # remaining size
OF_ORIG = 2
OF_AHEAD = 3  # market size ahead of us at our level (queue position)
OF_TRADED = 4  # market traded at our level since the level's last depth update
OF_SIZE = 5

# -- pending actions: ``ai`` / ``af`` columns -----------------------------------------------------
AI_KIND = 0
AI_ARR = 1  # exchange arrival time
AI_REQ = 2
AI_OID = 3  # target oid (modify/cancel), -1 = use AI_CID
AI_CID = 4
AI_SIDE = 5
AI_TIF = 6
AI_RO = 7  # reduce only
AI_SIZE = 8

AF_PX = 0
AF_SZ = 1
AF_SIZE = 2

# -- records: ``ri`` / ``rf`` columns ----------------------------------------------------------
RI_TYPE = 0
RI_LTS = 1  # local time the strategy sees it
RI_ETS = 2  # exchange time it happened
RI_REQ = 3
RI_OID = 4
RI_CID = 5
RI_SIDE = 6
RI_CODE = 7  # outcome (REC_RESULT) or status (REC_ORDER) or fill id (REC_FILL)
RI_REASON = 8
RI_SUB = 9  # inner reason of a failed modify's new order; taker flag for fills
RI_SIZE = 10

RF_PX = 0  # order / fill price; average fill price for REC_RESULT
RF_SZ = 1  # fill size; remaining size for REC_ORDER; filled size for REC_RESULT
RF_SZ2 = 2  # original size (REC_ORDER); remaining after the fill (REC_FILL)
RF_FEE = 3  # fill fee; position for REC_ECHO
RF_BID = 4  # best bid / ask when it happened (post-only messages, echo snapshots)
RF_ASK = 5
RF_SIZE = 6
