/* Training in the page, part 2: what to do with the gradients. The two optimizers the presets use,
 * SGD with momentum and Adam, and their learning-rate schedules (constant, and one-cycle), with
 * PyTorch's exact semantics for the options that mnist_demo/training.py gives torch. Those options
 * are presets.json's (`setup.training.optimizers` and `.schedules`), so the page and torch read
 * them from one place; tests/test_page_training.py holds the results to torch's.
 *
 * An optimizer changes the parameters (Float32Array, as the weights are) in place; its state
 * (momentum buffers, Adam's averages) is kept in Float64Array, allocated on its first step.
 *
 * Pure functions: `MnistOptim` in the browser or a worker, `require` under Node.
 */
(function (root, factory) {
  const api = factory();
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.MnistOptim = api;
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  /** An optimizer of `kind` ("sgd" or "adam") with presets.json's options for it. */
  function createOptimizer(kind, options) {
    if (kind !== "sgd" && kind !== "adam") throw new Error(`unknown optimizer ${kind}`);
    return { kind, options, steps: 0, state: {} };
  }

  /** The optimizer's momentum-like coefficient when nothing schedules it: SGD's momentum, or
   * Adam's beta1 (one-cycle cycles whichever the optimizer has, as torch's OneCycleLR does). */
  function defaultMomentum(opt) {
    return opt.kind === "sgd" ? opt.options.momentum : opt.options.betas[0];
  }

  /** torch.optim.SGD's step for one parameter: with momentum, the step follows a running sum of
   * gradients (buf = momentum * buf + (1 - dampening) * grad; the first step's buf is the
   * gradient itself), which carries it through small bumps; nesterov looks one step ahead. */
  function sgdUpdate(p, g, buf, first, lr, momentum, { dampening, nesterov, weight_decay: decay }) {
    for (let i = 0; i < p.length; i++) {
      let d = g[i] + decay * p[i]; // weight decay as torch does it: an L2 term added to the gradient
      if (momentum !== 0) {
        buf[i] = first ? d : momentum * buf[i] + (1 - dampening) * d;
        d = nesterov ? d + momentum * buf[i] : buf[i];
      }
      p[i] -= lr * d;
    }
  }

  /** torch.optim.Adam's step for one parameter: m and v are running averages of the gradient and
   * of its square; the step is m / sqrt(v), so each weight moves about `lr` whatever its gradient's
   * scale. Early on, m and v are biased towards their zero start: dividing by 1 - beta^t undoes
   * that (with beta1 as it is now: one-cycle changes it every step, and torch uses the current one). */
  function adamUpdate(p, g, m, v, t, lr, beta1, { betas, eps, weight_decay: decay }) {
    const beta2 = betas[1];
    const stepSize = lr / (1 - beta1 ** t), correction2 = Math.sqrt(1 - beta2 ** t);
    for (let i = 0; i < p.length; i++) {
      const d = g[i] + decay * p[i];
      m[i] += (1 - beta1) * (d - m[i]); // torch's exp_avg.lerp_(grad, 1 - beta1)
      v[i] = beta2 * v[i] + (1 - beta2) * d * d;
      p[i] -= stepSize * m[i] / (Math.sqrt(v[i]) / correction2 + eps);
    }
  }

  /** One optimizer step on every parameter, from gradients of the same names (trainer.js hands it
   * the batch's mean gradients), at learning rate `lr` and with `momentum` (SGD's momentum or
   * Adam's beta1) as the schedule says. */
  function optimizerStep(opt, params, grads, lr, momentum = defaultMomentum(opt)) {
    opt.steps += 1;
    const first = opt.steps === 1;
    for (const [key, p] of Object.entries(params)) {
      const g = grads[key];
      if (first) opt.state[key] = opt.kind === "sgd" ? { buf: new Float64Array(p.length) }
        : { m: new Float64Array(p.length), v: new Float64Array(p.length) };
      const s = opt.state[key];
      if (opt.kind === "sgd") sgdUpdate(p, g, s.buf, first, lr, momentum, opt.options);
      else adamUpdate(p, g, s.m, s.v, opt.steps, lr, momentum, opt.options);
    }
  }

  // ------------------------------------------------------------------------------ schedules

  const ANNEAL = {
    // From start to end as pct goes from 0 to 1: half a cosine wave, flat at both ends.
    cos: (start, end, pct) => end + (start - end) / 2 * (Math.cos(Math.PI * pct) + 1),
    linear: (start, end, pct) => (end - start) * pct + start,
  };

  /** torch.optim.lr_scheduler.OneCycleLR(opt, max_lr, total_steps, **options) as training.py
   * builds it: the learning rate climbs from max_lr / div_factor to max_lr over the first
   * pct_start of the steps, then falls to max_lr / div_factor / final_div_factor; the momentum
   * (or Adam's beta1) moves the other way, between max_momentum and base_momentum, when
   * cycle_momentum. Returns {lr(step), momentum(step)} for the optimizer's step `step` (0 first),
   * for steps 0 .. total_steps as torch allows. */
  function oneCycle(maxLr, totalSteps, o, fallbackMomentum) {
    const initial = maxLr / o.div_factor, min = initial / o.final_div_factor;
    const lrs = { initial, max: maxLr, min };
    const moms = { max: o.max_momentum, base: o.base_momentum };
    const phases = o.three_phase ? [
      { end: o.pct_start * totalSteps - 1, lr: ["initial", "max"], mom: ["max", "base"] },
      { end: 2 * o.pct_start * totalSteps - 2, lr: ["max", "initial"], mom: ["base", "max"] },
      { end: totalSteps - 1, lr: ["initial", "min"], mom: ["max", "max"] },
    ] : [
      { end: o.pct_start * totalSteps - 1, lr: ["initial", "max"], mom: ["max", "base"] },
      { end: totalSteps - 1, lr: ["max", "min"], mom: ["base", "max"] },
    ];
    const anneal = ANNEAL[o.anneal_strategy];
    if (!anneal) throw new Error(`unknown anneal_strategy ${o.anneal_strategy}`);
    /** The phase the step is in, and how far through it (as torch's get_lr finds them). */
    function where(step) {
      if (!(step >= 0 && step <= totalSteps)) throw new RangeError(`step ${step} outside 0..${totalSteps}`);
      let start = 0;
      for (let i = 0; i < phases.length; i++) {
        if (step <= phases[i].end || i === phases.length - 1) {
          return { phase: phases[i], pct: (step - start) / (phases[i].end - start) };
        }
        start = phases[i].end;
      }
    }
    return {
      lr(step) {
        const { phase, pct } = where(step);
        return anneal(lrs[phase.lr[0]], lrs[phase.lr[1]], pct);
      },
      momentum(step) {
        if (!o.cycle_momentum) return fallbackMomentum;
        const { phase, pct } = where(step);
        return anneal(moms[phase.mom[0]], moms[phase.mom[1]], pct);
      },
    };
  }

  function constant(lr, momentum) {
    return { lr: () => lr, momentum: () => momentum };
  }

  /** The schedule a config asks for (its `schedule`, `lr`), over `totalSteps` optimizer steps:
   * `training` is presets.json as the page receives it (setup.training). */
  function scheduleFor(config, training, totalSteps) {
    const momentum = defaultMomentum({ kind: config.optimizer, options: training.optimizers[config.optimizer] });
    if (config.schedule === "constant") return constant(config.lr, momentum);
    if (config.schedule === "onecycle") return oneCycle(config.lr, totalSteps, training.schedules.onecycle, momentum);
    throw new Error(`unknown schedule ${config.schedule}`);
  }

  return { createOptimizer, optimizerStep, defaultMomentum, oneCycle, constant, scheduleFor };
});
