// The first-run setup's words, in English and Hindi (the Hindi table is typed by the English one, so a
// missing translation does not compile), and what each failure of the server check means to a user.
import { useContext } from "react";

import type { Language } from "./bindings/Language";
import type { ServerProblem } from "./bindings/ServerProblem";
import { LanguageContext } from "./i18n";

const en = {
  "setup.title": "Set up Leadline on this computer",
  "setup.intro": "Three quick checks before you sign in: the server, your microphone and notifications.",
  "setup.steps": "Setup steps",
  "setup.step.server": "Server",
  "setup.step.microphone": "Microphone",
  "setup.step.notifications": "Notifications",
  "setup.stepOf": "Step {n} of 3",
  "setup.next": "Next",
  "setup.back": "Back",
  "setup.skip": "Skip this check",
  "setup.finish": "Finish setup",
  "setup.finishing": "Saving…",
  "setup.cancel": "Close setup",
  "setup.language": "Language",
  "setup.again": "Set up this computer again",
  "setup.again.hint": "Server, microphone and notification checks",
  "setup.saveFailed": "The setup could not be saved",

  "server.label": "Server address",
  "server.hint": "Your administrator gives you this address, e.g. https://crm.yourstore.in",
  "server.check": "Check",
  "server.checking": "Checking the server…",
  "server.ok": "Leadline {version} answers at {url}.",
  "server.plainHttp": "This address is not encrypted (http): use it only on this computer or a network you trust.",
  "server.acceptHttp": "I understand: use this unencrypted address anyway",
  "server.locked": "Set by {who} in {file}.",
  "server.lockedAdmin": "your administrator",
  "server.team": "This computer belongs to {team}.",
  "server.signedIn": "You are signed in to this server. Sign out first to use another one.",
  "server.lockedAnyway": "You can go on: the server is checked again when you sign in.",
  "server.fault": "The setup file from your administrator cannot be used",
  "server.faultDetail":
    "{file}: {message}. Tell your administrator. Meanwhile you can type the server address yourself.",

  "problem.title": "This is not a server Leadline can use",
  "problem.empty": "Type the server address.",
  "problem.malformed": "This is not a web address. Type it like https://crm.yourstore.in",
  "problem.scheme": "The address must start with https://",
  "problem.plainHttp":
    "This address is not encrypted (http://), so passwords and leads would cross the network readable by anyone on it. Use the https:// address, or tick the box below if your administrator says so.",
  "problem.extra": "Type only the server's address, without a user name, ? or #.",
  "problem.dns": "The name {host} is not known. Check the spelling, and that this computer is on the internet.",
  "problem.refused":
    "{host} answers, but nothing listens on port {port}: the Leadline server is stopped, or the port is wrong.",
  "problem.timeout": "{host} does not answer. Check the address, the internet connection and any firewall.",
  "problem.unreachable": "{host} cannot be reached ({detail}).",
  "problem.certUntrusted":
    "The certificate of {host} is not trusted by this computer (self-signed, or from an authority not installed here). Ask your administrator to install a proper certificate.",
  "problem.certWrongName": "The certificate of {host} is made out for another name. Check the address.",
  "problem.certExpired": "The certificate of {host} has expired. Tell your administrator.",
  "problem.certNotYetValid":
    "The certificate of {host} is not valid yet. Check this computer's date and time, or tell your administrator.",
  "problem.certOther": "A secure connection to {host} could not be made ({detail}).",
  "problem.notLeadline":
    "Something answers at this address, but it is not a Leadline server ({detail}). Check the address with your administrator.",
  "problem.unhealthy":
    "The Leadline server answers with an error (HTTP {status}). Try again in a few minutes, or tell your administrator.",
  "problem.incompatible":
    "This Leadline server (version {version}) is not compatible with this app. Ask your administrator which version to install.",
  "problem.tooOld": "This Leadline server is older than this app. Ask your administrator to update the server.",
  "problem.unknownVersion": "unknown",

  "mic.label": "Microphone",
  "mic.default": "System default",
  "mic.say": "Say something, for example your name. The bar moves when the microphone hears you.",
  "mic.level": "Microphone level",
  "mic.heard": "The microphone hears you.",
  "mic.notYet": "Nothing heard yet.",
  "mic.none":
    "No microphone was found on this computer. You can go on: calls will ring your mobile instead (click-to-call). Plug in a headset and open the setup again to test it.",
  "mic.failed": "The microphone could not be opened ({detail}). Close other programs using it, or pick another one.",
  "mic.starting": "Opening the microphone…",
  "speaker.label": "Speaker or headset",
  "speaker.test": "Play a test tone",
  "speaker.playing": "Playing…",
  "speaker.hint": "You should hear a short beep.",

  "notify.intro": "Leadline tells you of new leads and follow-ups due with desktop notifications.",
  "notify.send": "Send a test notification",
  "notify.sending": "Sending…",
  "notify.title": "Leadline test notification",
  "notify.body": "If you can read this, Leadline's notifications reach you.",
  "notify.service": "Notifications on this computer are shown by {service}.",
  "notify.noService":
    "No notification service answers on this computer, so Leadline cannot show notifications. You can go on; new leads still show in the app.",
  "notify.question": "Did you see the notification?",
  "notify.yes": "Yes, I saw it",
  "notify.no": "No",
  "notify.seen": "Notifications work.",
  "notify.help": "Notifications may be paused (do not disturb). To turn them on:",
  "notify.gnome": "GNOME: Settings → Notifications: turn off Do Not Disturb and turn on Leadline.",
  "notify.kde": "KDE Plasma: click the bell in the system tray and turn off Do not disturb.",
  "notify.xfce": "Xfce: Settings → Notifications: untick Do not disturb.",
  "notify.retry": "Then send another test notification, or go on without them.",
  "notify.noServiceHelp":
    "This desktop session runs no notification service (a bare window manager or a kiosk session may have none). Ask your IT team to install one — on Debian or Ubuntu the package notification-daemon or dunst — and start it with the session; then send another test notification.",
};

export type SetupKey = keyof typeof en;

const hi: Record<SetupKey, string> = {
  "setup.title": "इस कंप्यूटर पर Leadline सेट करें",
  "setup.intro": "साइन इन से पहले तीन छोटी जाँचें: सर्वर, आपका माइक्रोफ़ोन और सूचनाएँ।",
  "setup.steps": "सेटअप के चरण",
  "setup.step.server": "सर्वर",
  "setup.step.microphone": "माइक्रोफ़ोन",
  "setup.step.notifications": "सूचनाएँ",
  "setup.stepOf": "चरण {n} / 3",
  "setup.next": "आगे",
  "setup.back": "पीछे",
  "setup.skip": "यह जाँच छोड़ें",
  "setup.finish": "सेटअप पूरा करें",
  "setup.finishing": "सहेजा जा रहा है…",
  "setup.cancel": "सेटअप बंद करें",
  "setup.language": "भाषा",
  "setup.again": "इस कंप्यूटर को फिर से सेट करें",
  "setup.again.hint": "सर्वर, माइक्रोफ़ोन और सूचनाओं की जाँच",
  "setup.saveFailed": "सेटअप सहेजा नहीं जा सका",

  "server.label": "सर्वर का पता",
  "server.hint": "यह पता आपके एडमिन देते हैं, जैसे https://crm.yourstore.in",
  "server.check": "जाँचें",
  "server.checking": "सर्वर की जाँच हो रही है…",
  "server.ok": "{url} पर Leadline {version} जवाब दे रहा है।",
  "server.plainHttp":
    "यह पता एन्क्रिप्टेड नहीं है (http): इसे सिर्फ़ इसी कंप्यूटर पर या भरोसेमंद नेटवर्क पर इस्तेमाल करें।",
  "server.acceptHttp": "मैं समझता/समझती हूँ: फिर भी यह बिना एन्क्रिप्शन वाला पता इस्तेमाल करें",
  "server.locked": "{who} ने {file} में तय किया है।",
  "server.lockedAdmin": "आपके एडमिन",
  "server.team": "यह कंप्यूटर {team} का है।",
  "server.signedIn": "आप इस सर्वर में साइन इन हैं। दूसरा सर्वर इस्तेमाल करने के लिए पहले साइन आउट करें।",
  "server.lockedAnyway": "आप आगे बढ़ सकते हैं: साइन इन के समय सर्वर की फिर जाँच होगी।",
  "server.fault": "एडमिन की सेटअप फ़ाइल इस्तेमाल नहीं हो सकती",
  "server.faultDetail": "{file}: {message}। अपने एडमिन को बताएँ। तब तक आप सर्वर का पता ख़ुद लिख सकते हैं।",

  "problem.title": "Leadline इस सर्वर का इस्तेमाल नहीं कर सकता",
  "problem.empty": "सर्वर का पता लिखें।",
  "problem.malformed": "यह वेब पता नहीं है। https://crm.yourstore.in जैसा पता लिखें।",
  "problem.scheme": "पता https:// से शुरू होना चाहिए।",
  "problem.plainHttp":
    "यह पता एन्क्रिप्टेड नहीं है (http://), इसलिए पासवर्ड और लीड्स नेटवर्क पर कोई भी पढ़ सकता है। https:// वाला पता इस्तेमाल करें, या एडमिन कहें तो नीचे का बॉक्स चुनें।",
  "problem.extra": "सिर्फ़ सर्वर का पता लिखें, यूज़रनेम, ? या # के बिना।",
  "problem.dns": "{host} नाम नहीं मिला। स्पेलिंग जाँचें, और देखें कि कंप्यूटर इंटरनेट से जुड़ा है।",
  "problem.refused":
    "{host} जवाब देता है, पर पोर्ट {port} पर कुछ नहीं चल रहा: Leadline सर्वर बंद है, या पोर्ट गलत है।",
  "problem.timeout": "{host} जवाब नहीं दे रहा। पता, इंटरनेट कनेक्शन और फ़ायरवॉल जाँचें।",
  "problem.unreachable": "{host} तक नहीं पहुँचा जा सका ({detail})।",
  "problem.certUntrusted":
    "{host} का सर्टिफ़िकेट यह कंप्यूटर भरोसेमंद नहीं मानता (ख़ुद बनाया हुआ, या ऐसी संस्था का जो यहाँ इंस्टॉल नहीं)। एडमिन से सही सर्टिफ़िकेट लगाने को कहें।",
  "problem.certWrongName": "{host} का सर्टिफ़िकेट किसी दूसरे नाम के लिए बना है। पता जाँचें।",
  "problem.certExpired": "{host} के सर्टिफ़िकेट की मियाद ख़त्म हो गई है। अपने एडमिन को बताएँ।",
  "problem.certNotYetValid":
    "{host} का सर्टिफ़िकेट अभी मान्य नहीं है। इस कंप्यूटर की तारीख़ और समय जाँचें, या एडमिन को बताएँ।",
  "problem.certOther": "{host} से सुरक्षित कनेक्शन नहीं बन सका ({detail})।",
  "problem.notLeadline":
    "इस पते पर कुछ जवाब देता है, पर वह Leadline सर्वर नहीं है ({detail})। पता अपने एडमिन से जाँचें।",
  "problem.unhealthy": "Leadline सर्वर गड़बड़ी बता रहा है (HTTP {status})। कुछ मिनट बाद फिर कोशिश करें, या एडमिन को बताएँ।",
  "problem.incompatible":
    "यह Leadline सर्वर (संस्करण {version}) इस ऐप के साथ नहीं चलता। एडमिन से पूछें कि कौन-सा संस्करण इंस्टॉल करें।",
  "problem.tooOld": "यह Leadline सर्वर इस ऐप से पुराना है। एडमिन से सर्वर अपडेट करने को कहें।",
  "problem.unknownVersion": "अज्ञात",

  "mic.label": "माइक्रोफ़ोन",
  "mic.default": "सिस्टम का डिफ़ॉल्ट",
  "mic.say": "कुछ बोलें, जैसे अपना नाम। माइक्रोफ़ोन आपको सुनेगा तो पट्टी हिलेगी।",
  "mic.level": "माइक्रोफ़ोन का स्तर",
  "mic.heard": "माइक्रोफ़ोन आपको सुन रहा है।",
  "mic.notYet": "अभी तक कुछ सुनाई नहीं दिया।",
  "mic.none":
    "इस कंप्यूटर पर कोई माइक्रोफ़ोन नहीं मिला। आप आगे बढ़ सकते हैं: कॉल आपके मोबाइल पर आएँगी (क्लिक-टू-कॉल)। हेडसेट लगाकर सेटअप फिर खोलें और जाँचें।",
  "mic.failed": "माइक्रोफ़ोन नहीं खुल सका ({detail})। उसे इस्तेमाल कर रहे दूसरे प्रोग्राम बंद करें, या दूसरा चुनें।",
  "mic.starting": "माइक्रोफ़ोन खोला जा रहा है…",
  "speaker.label": "स्पीकर या हेडसेट",
  "speaker.test": "टेस्ट टोन चलाएँ",
  "speaker.playing": "चल रहा है…",
  "speaker.hint": "आपको एक छोटी बीप सुनाई देनी चाहिए।",

  "notify.intro": "Leadline नई लीड्स और बकाया फ़ॉलो-अप की ख़बर डेस्कटॉप सूचनाओं से देता है।",
  "notify.send": "टेस्ट सूचना भेजें",
  "notify.sending": "भेजी जा रही है…",
  "notify.title": "Leadline की टेस्ट सूचना",
  "notify.body": "अगर आप यह पढ़ पा रहे हैं, तो Leadline की सूचनाएँ आप तक पहुँचती हैं।",
  "notify.service": "इस कंप्यूटर पर सूचनाएँ {service} दिखाता है।",
  "notify.noService":
    "इस कंप्यूटर पर कोई सूचना सेवा जवाब नहीं देती, इसलिए Leadline सूचनाएँ नहीं दिखा सकता। आप आगे बढ़ सकते हैं; नई लीड्स ऐप में दिखती रहेंगी।",
  "notify.question": "क्या आपको सूचना दिखी?",
  "notify.yes": "हाँ, दिखी",
  "notify.no": "नहीं",
  "notify.seen": "सूचनाएँ काम कर रही हैं।",
  "notify.help": "हो सकता है सूचनाएँ रुकी हों (डू नॉट डिस्टर्ब)। चालू करने के लिए:",
  "notify.gnome": "GNOME: सेटिंग्स → सूचनाएँ: डू नॉट डिस्टर्ब बंद करें और Leadline चालू करें।",
  "notify.kde": "KDE Plasma: सिस्टम ट्रे में घंटी पर क्लिक करें और डू नॉट डिस्टर्ब बंद करें।",
  "notify.xfce": "Xfce: सेटिंग्स → सूचनाएँ: डू नॉट डिस्टर्ब का निशान हटाएँ।",
  "notify.retry": "फिर एक और टेस्ट सूचना भेजें, या इनके बिना आगे बढ़ें।",
  "notify.noServiceHelp":
    "इस डेस्कटॉप सत्र में कोई सूचना सेवा नहीं चलती (साधारण विंडो मैनेजर या कियोस्क सत्र में अक्सर नहीं होती)। अपनी IT टीम से एक सेवा इंस्टॉल करवाएँ — Debian या Ubuntu पर पैकेज notification-daemon या dunst — और उसे सत्र के साथ चालू करवाएँ; फिर एक और टेस्ट सूचना भेजें।",
};

const TABLES: Record<Language, Record<SetupKey, string>> = { en, hi };

/** The setup's string for `key` in `lang`, with `{name}` placeholders filled from `vars`. */
export function setupText(lang: Language, key: SetupKey, vars: Record<string, string | number> = {}): string {
  return TABLES[lang][key].replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in vars ? String(vars[name]) : whole,
  );
}

export type SetupT = (key: SetupKey, vars?: Record<string, string | number>) => string;

/** `t(key, vars)` for the setup, in the app's language. */
export function useSetupT(): SetupT {
  const lang = useContext(LanguageContext);
  return (key, vars) => setupText(lang, key, vars);
}

/** What a failed server check means, in `lang`. */
export function describeProblem(problem: ServerProblem, lang: Language): string {
  const t = (key: SetupKey, vars?: Record<string, string | number>) => setupText(lang, key, vars);
  switch (problem.kind) {
    case "bad_address":
      return t(
        (
          {
            empty: "problem.empty",
            malformed: "problem.malformed",
            scheme: "problem.scheme",
            plain_http: "problem.plainHttp",
            extra: "problem.extra",
          } as const
        )[problem.reason],
      );
    case "dns":
      return t("problem.dns", { host: problem.host });
    case "refused":
      return t("problem.refused", { host: problem.host, port: problem.port });
    case "timeout":
      return t("problem.timeout", { host: problem.host });
    case "unreachable":
      return t("problem.unreachable", { host: problem.host, detail: problem.detail });
    case "certificate":
      return t(
        (
          {
            untrusted: "problem.certUntrusted",
            wrong_name: "problem.certWrongName",
            expired: "problem.certExpired",
            not_yet_valid: "problem.certNotYetValid",
            other: "problem.certOther",
          } as const
        )[problem.reason],
        { host: problem.host, detail: problem.detail },
      );
    case "not_leadline":
      return t("problem.notLeadline", { detail: problem.detail });
    case "unhealthy":
      return t("problem.unhealthy", { status: problem.status });
    case "incompatible":
      return problem.server_version === null
        ? t("problem.tooOld")
        : t("problem.incompatible", { version: problem.server_version });
  }
}
