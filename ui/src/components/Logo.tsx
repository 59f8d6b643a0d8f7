/** The Leadline mark: the "L" with the lead dot, as in icons/icon.png. */
export function Logo({ size = 28 }: { size?: number }) {
  return (
    <svg width={size} height={size} viewBox="0 0 512 512" aria-hidden="true" className="logo">
      <rect x="24" y="24" width="464" height="464" rx="110" fill="#4338ca" />
      <path d="M168 118h72v204h116v72H168z" fill="#fff" />
      <circle cx="352" cy="162" r="34" fill="#f5b83d" />
    </svg>
  );
}
