"""MODEL_CARD.md for the models scripts/train_models.py builds."""

from __future__ import annotations

from typing import Any


def render(anomaly: dict[str, Any], forecast: dict[str, Any], sizes: dict[str, int], settings: dict[str, Any]) -> str:
    """Return MODEL_CARD.md from the metrics of scripts/train_models.py."""
    a, f = anomaly, forecast
    train, validation, test = settings["homes"]
    duty_w, step_w, target = settings["duty_w"], settings["step_w"], settings["target_false_alarm"]
    return f"""# Models shipped with the onnx integration

Both models were trained by `scripts/train_models.py` (`pip install -e '.[train]'`, then
`python scripts/train_models.py`) on synthetic data only; every seed is fixed, so a rerun
gives these files and these figures again.

## Training data
`scripts/synthetic_power.py` simulates the one-minute mean power of a household circuit as a
PZEM-004T reports it: a standby load with a daily swing (35 W x 0.8-1.25, peak at 18:00), a
fridge compressor (90-140 W) cycling 10-17 min on / 20-30 min off with longer runs in the warm
afternoon, kettle (about 2 kW, 2-4 min) and microwave (about 1 kW) uses around meals that are
more frequent at weekends, a washing machine in 60 % of homes (15 min at 2 kW heating, then
150-400 W for up to 1.5 h, mostly at weekends) and evening lights/TV in 70 % of homes, with
meter noise (0.4 % + 0.3 W). Homes are independent draws: {train} training homes,
{validation} validation homes (threshold tuning) and {test} test homes
(the figures below), all different seeds.

Faults injected into the test homes (one every other day, 2-12 h each, the three kinds in turn):
- **stuck relay**: the circuit draws one constant load of 150-2000 W (noise only);
- **fridge never cycles off**: the compressor stays on;
- **baseline jump**: the standby load rises by 80-300 W.

## anomaly_power.onnx ({sizes['anomaly']:,} bytes)
An IsolationForest (64 trees, 512 samples each) over scale-free summary statistics of the last hour:
log(1 + minimum), coefficient of variation, minimum/maximum, duty (share of minutes {duty_w:.0f} W above
the minimum) and steps (minute-to-minute changes over {step_w:.0f} W), plus sin/cos of the time of day. The statistics are computed inside the
ONNX graph from the raw window, so the hub feeds:

```yaml
onnx:
  - name: Kitchen anomaly
    model: anomaly_power.onnx
    inputs: sensor.demo_001_power
    window: {{span: "01:00:00", step: 60}}
    features: [raw, time_of_day]          # input `features`: float32 [1, 62]
    output: anomaly_score
    threshold: {{above: 0}}
```

Output `anomaly_score` (float32 [1, 1]) is the forest's decision score subtracted from the
threshold {a['threshold']:.4f}, which leaves {target:.1%} of normal validation windows
above 0.

Held-out test homes ({test} x 14 days), per one-hour window, counting windows that lie
entirely in a fault ({a['windows_faulty']:,}) or entirely outside one ({a['windows_normal']:,}):

| metric | value |
|---|---|
| precision | {a['precision']:.3f} |
| recall | {a['recall']:.3f} |
| false alarm rate (normal windows above 0) | {a['false_alarm_rate']:.4f} |
| alarms per day on the same homes without faults | {a['false_alarms_per_day']:.2f} |
| faults detected (stuck relay / fridge / baseline) | {" / ".join(str(v) for v in a['episodes'].values())} |
| minutes from fault start to first alarm, median / p90 | {a['delay_median']:.0f} / {a['delay_p90']:.0f} |
| alarms per day on the `hub run --demo` kitchen meters (firmware/sim profiles, 3 x 3 days, no faults) | {a['demo_alarms_per_day']:.2f} |

Window-level recall is low because a fault is only certain once a whole hour shows it, and a
baseline jump in the evening looks like the lights coming on; per fault (the row above) most are
found. False alarms are short (median {a['false_alarm_minutes'][0]:.0f} min, p90 {a['false_alarm_minutes'][1]:.0f} min on the test
homes; {a['false_alarms_over_10_min_per_day']:.2f} per day last 10 minutes or more), so the blueprint
`powerhub/anomaly_notify.yaml` waits for the anomaly to hold `on_for` seconds (600 by default)
before it notifies.

## forecast_power.onnx ({sizes['forecast']:,} bytes)
Gradient-boosted regression trees (150 trees of depth 3, absolute-error loss) predicting the
mean power of the next hour from the last 24 hourly means and sin/cos of the time of day and
of the week at the start of the hour predicted:

```yaml
onnx:
  - name: Kitchen next hour
    model: forecast_power.onnx
    inputs: sensor.demo_001_power
    window: {{span: "24:00:00", step: 3600}}
    features: [raw, time_of_day, day_of_week]   # input `features`: float32 [1, 28]
    unit_of_measurement: W
    device_class: power
```

Output `forecast` (float32 [1, 1]), in W. Test homes ({test} x 28 days, {f['test_rows']:,}
hours; mean power {f['mean_target']:.0f} W):

| predictor | MAE (W) |
|---|---|
| this model | {f['mae']:.1f} |
| naive: the last hour again | {f['mae_last_hour']:.1f} |
| naive: the same hour yesterday | {f['mae_same_hour_yesterday']:.1f} |

## Limits
- Synthetic data only: no real meter has been measured. The figures say the models learnt the
  simulator, not that they fit a given home; retrain on your own history for real use
  (the script is the template).
- The anomaly model expects a circuit with a cycling fridge and kitchen-like loads. On a
  circuit without one (a heater, an office) it will call normal behaviour anomalous.
- It looks at one hour: faults shorter than that, or slow drifts over days, are not seen.
  Most faults are found only once the whole window shows them, so alarms come up to an hour late.
- The forecaster needs 24 hours of readings before it gives a value (the sensor is
  `unavailable` until then) and knows nothing of holidays, weather or tariffs.
- Times of day are local to the hub's `time_zone`; training used UTC as local time.
"""
