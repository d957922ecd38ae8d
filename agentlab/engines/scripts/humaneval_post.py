"""OpenCompass's own HumanEval post-processing of raw predictions (run in the bench environment).

Usage: python humaneval_post.py PREDICTIONS.json COMPLETIONS.json
"""

import json
import sys

from opencompass.datasets.humaneval import humaneval_postprocess_v2

preds = json.load(open(sys.argv[1]))
json.dump([humaneval_postprocess_v2(p) for p in preds], open(sys.argv[2], 'w'))
