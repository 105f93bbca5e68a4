// One-line definitions of every number the dashboards show (docs/RECAST.md section 4): under each chart,
// in exported images, and in the exported reports (JSON and CSV). Engine side: the numbers and
// their definitions come from the same place.
export const DEFINITIONS = {
  cosine:
    'Per-layer cosine fidelity: ' +
    'cos(vec(W*ₗ), vec(Wₗ)) ' +
    'between the original W*ₗ and the reconstructed Wₗ ' +
    '(1 = same direction).',
  relError: 'Relative error: ‖Wₗ − W*ₗ‖_F / ‖W*ₗ‖_F (0 = exact).',
  probeCosine: 'Feature fidelity with random probes xⱼ ~ N(0, I), not data: meanⱼ cos(W*ₗ xⱼ, Wₗ xⱼ).',
  diversity:
    'Template diversity (Frobenius), per bank: ' +
    'mean over pairs i < j ' +
    'of ‖Tᵢ − Tⱼ‖_F; ' +
    'relative: divided by ' +
    'meanₜ ‖Tₜ‖_F.',
  entropy:
    'Template entropy: T reshaped to out × rest, pᵢ = sᵢ / Σs of its singular values, H = −Σ pᵢ ln pᵢ; ' +
    'normalised H / ln(rank) ∈ [0, 1]; per bank the mean over templates.',
  similarity:
    'Intra-group coefficient similarity: cos(aₗ, aₘ) for blocks l, m of one group, ' +
    'aₗ = all of block l’s coefficient sets concatenated.',
  spectra:
    'Singular values of each weight viewed as out × (everything else), largest first: originals (solid) against the templates (dashed).',
  spectraRebuilt:
    'Singular values of each weight viewed as out × (everything else), largest first: ' +
    'rebuilt members (solid) against the templates (dashed); the originals are not in a reparameterized file.',
  loss:
    'The method’s objective per group: weighted SmoothL1 or MSE between rebuilt and original weights ' +
    '(the closed form reports its mean squared error).',
  curve:
    'Closed form, every n at once: from the eigenvalues λ of each group’s member Gram matrix, the fit’s relative error is ' +
    '√(Σ λ beyond n / Σ λ) and each layer’s cosine √(Σₜ≤ₙ λₜ Uₗₜ² / ‖yₗ‖²); compression = role parameters before / after. ◆ = the chosen setting.',
  diversityClosedForm:
    'The closed form’s templates are orthogonal and scaled to one norm, so its relative diversity is always √2 (n ≥ 2): ' +
    'it carries no information there; the energy shares below do.',
  energy:
    'Energy share of template t in its group: λₜ / Σ λ, the eigenvalues of the fit’s member Gram matrix (largest first); ' +
    'the remainder, 1 − Σ of the kept shares, is what the fit leaves out.',
  budget: 'Parameters after = n templates × member size + members × K × n coefficients per bank, plus every tensor copied unchanged.',
} as const;
