"""Scale-out crawling: one crawl spread over many machines with Celery and a Redis broker.

Three rooms, none reaching into another: `app` is the Celery configuration (late acks, one
message prefetched per visit slot, a visibility timeout above the longest visit), `state` is the
crawl's own record in Redis (its sites, options, delivery counts and results, keyed by crawl id
and site), `worker` runs the visits with the local crawler's code (webscan.crawl.runner: the
same browser handling, the same judges, the same Report), and `submit` enqueues a crawl and
follows its results. Nothing here decides anything about mining.

Delivery is at least once (a worker may die at any line); results are written once per
(crawl, site) with HSETNX, so a second delivery changes nothing, and a site whose worker never
finishes it is given up as `error` after a bounded number of deliveries.
"""
