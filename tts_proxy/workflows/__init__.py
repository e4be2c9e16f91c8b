"""Multi-stage workflows (AgentTTS): per-stage plans applied live, and the planner that
searches them offline under a FLOPs budget.

Live: a request tagged with a workflow and a stage (``tags``) gets its stage's model,
controller and budget from the workflow's active plan (``plan``, ``book``); FLOPs are
estimated from parameter counts (``flops``). Offline: an environment (``environment``) holds
recorded outcomes per stage, model and budget, built from CSV grids or replay files
(``grids``); searches (``search``, ``agent``) look for the best plan under a budget, and
``planner`` runs and reports them.
"""
