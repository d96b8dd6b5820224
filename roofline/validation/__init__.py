"""Fidelity: the engine backtested against published measurements.

- :mod:`~roofline.validation.cases`: the cases (``validation/*.yaml``) and their groups;
- :mod:`~roofline.validation.predict`: each case predicted in its source's unit;
- :mod:`~roofline.validation.calibrate`: the hierarchical fit of the efficiency defaults;
- :mod:`~roofline.validation.crossval`: grouped k-fold (leave-one-source-out) scoring;
- :mod:`~roofline.validation.report` and :mod:`~roofline.validation.plot`: the report;
- :mod:`~roofline.validation.run`: ``roofline validate-runs``.
"""

from roofline.validation.calibrate import Fit, fit, surfaces
from roofline.validation.cases import Case, load_cases, validation_dir
from roofline.validation.crossval import CrossValidation, cross_validate, error_stats
from roofline.validation.predict import Prediction, evaluate, predict, training_unit_factor
from roofline.validation.run import (
    DOC_PATH,
    GUARD,
    Report,
    build_report,
    calibration_yaml,
    validate_runs,
)

__all__ = ["DOC_PATH", "GUARD", "Case", "CrossValidation", "Fit", "Prediction", "Report",
           "build_report", "calibration_yaml", "cross_validate", "error_stats", "evaluate",
           "fit", "load_cases", "predict", "surfaces", "training_unit_factor",
           "validate_runs", "validation_dir"]
